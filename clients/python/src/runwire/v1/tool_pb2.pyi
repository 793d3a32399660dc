import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from runwire.v1 import agent_pb2 as _agent_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class McpServerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MCP_SERVER_STATE_UNSPECIFIED: _ClassVar[McpServerState]
    MCP_SERVER_STATE_CONNECTED: _ClassVar[McpServerState]
    MCP_SERVER_STATE_UNAVAILABLE: _ClassVar[McpServerState]

class McpServerTransport(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MCP_SERVER_TRANSPORT_UNSPECIFIED: _ClassVar[McpServerTransport]
    MCP_SERVER_TRANSPORT_STDIO: _ClassVar[McpServerTransport]
    MCP_SERVER_TRANSPORT_STREAMABLE_HTTP: _ClassVar[McpServerTransport]
MCP_SERVER_STATE_UNSPECIFIED: McpServerState
MCP_SERVER_STATE_CONNECTED: McpServerState
MCP_SERVER_STATE_UNAVAILABLE: McpServerState
MCP_SERVER_TRANSPORT_UNSPECIFIED: McpServerTransport
MCP_SERVER_TRANSPORT_STDIO: McpServerTransport
MCP_SERVER_TRANSPORT_STREAMABLE_HTTP: McpServerTransport

class Tool(_message.Message):
    __slots__ = ("name", "description", "parameters", "source", "mcp_server")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVER_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    source: _agent_pb2.ToolSource
    mcp_server: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., source: _Optional[_Union[_agent_pb2.ToolSource, str]] = ..., mcp_server: _Optional[str] = ...) -> None: ...

class McpServer(_message.Message):
    __slots__ = ("name", "transport", "state", "error", "tool_names", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAMES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    transport: McpServerTransport
    state: McpServerState
    error: str
    tool_names: _containers.RepeatedScalarFieldContainer[str]
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., transport: _Optional[_Union[McpServerTransport, str]] = ..., state: _Optional[_Union[McpServerState, str]] = ..., error: _Optional[str] = ..., tool_names: _Optional[_Iterable[str]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListToolsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListToolsResponse(_message.Message):
    __slots__ = ("tools", "mcp_servers")
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    mcp_servers: _containers.RepeatedCompositeFieldContainer[McpServer]
    def __init__(self, tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., mcp_servers: _Optional[_Iterable[_Union[McpServer, _Mapping]]] = ...) -> None: ...
