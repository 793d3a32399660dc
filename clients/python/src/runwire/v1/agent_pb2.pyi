import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Runtime(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUNTIME_UNSPECIFIED: _ClassVar[Runtime]
    RUNTIME_IN_PROCESS: _ClassVar[Runtime]
    RUNTIME_TEMPORAL: _ClassVar[Runtime]

class ApprovalMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_MODE_UNSPECIFIED: _ClassVar[ApprovalMode]
    APPROVAL_MODE_REQUIRE_ALL: _ClassVar[ApprovalMode]
    APPROVAL_MODE_AUTO: _ClassVar[ApprovalMode]
    APPROVAL_MODE_ALLOWLIST: _ClassVar[ApprovalMode]

class ToolSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_SOURCE_UNSPECIFIED: _ClassVar[ToolSource]
    TOOL_SOURCE_BUILTIN: _ClassVar[ToolSource]
    TOOL_SOURCE_PYTHON: _ClassVar[ToolSource]
    TOOL_SOURCE_MCP: _ClassVar[ToolSource]
    TOOL_SOURCE_SUB_AGENT: _ClassVar[ToolSource]
RUNTIME_UNSPECIFIED: Runtime
RUNTIME_IN_PROCESS: Runtime
RUNTIME_TEMPORAL: Runtime
APPROVAL_MODE_UNSPECIFIED: ApprovalMode
APPROVAL_MODE_REQUIRE_ALL: ApprovalMode
APPROVAL_MODE_AUTO: ApprovalMode
APPROVAL_MODE_ALLOWLIST: ApprovalMode
TOOL_SOURCE_UNSPECIFIED: ToolSource
TOOL_SOURCE_BUILTIN: ToolSource
TOOL_SOURCE_PYTHON: ToolSource
TOOL_SOURCE_MCP: ToolSource
TOOL_SOURCE_SUB_AGENT: ToolSource

class Agent(_message.Message):
    __slots__ = ("agent_id", "display_name", "description", "instructions", "model", "tools", "approval_policy", "limits", "runtime", "etag", "create_time", "update_time", "response_format", "fallback_models", "labels", "sub_agents", "toolsets", "tool_execution")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_POLICY_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_MODELS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SUB_AGENTS_FIELD_NUMBER: _ClassVar[int]
    TOOLSETS_FIELD_NUMBER: _ClassVar[int]
    TOOL_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    display_name: str
    description: str
    instructions: str
    model: Model
    tools: _containers.RepeatedScalarFieldContainer[str]
    approval_policy: ApprovalPolicy
    limits: Limits
    runtime: Runtime
    etag: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    response_format: _struct_pb2.Struct
    fallback_models: _containers.RepeatedCompositeFieldContainer[Model]
    labels: _containers.ScalarMap[str, str]
    sub_agents: _containers.RepeatedCompositeFieldContainer[SubAgent]
    toolsets: _containers.RepeatedScalarFieldContainer[str]
    tool_execution: ToolExecution
    def __init__(self, agent_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., instructions: _Optional[str] = ..., model: _Optional[_Union[Model, _Mapping]] = ..., tools: _Optional[_Iterable[str]] = ..., approval_policy: _Optional[_Union[ApprovalPolicy, _Mapping]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., runtime: _Optional[_Union[Runtime, str]] = ..., etag: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., response_format: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., fallback_models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., sub_agents: _Optional[_Iterable[_Union[SubAgent, _Mapping]]] = ..., toolsets: _Optional[_Iterable[str]] = ..., tool_execution: _Optional[_Union[ToolExecution, _Mapping]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("provider", "name", "options")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    name: str
    options: _struct_pb2.Struct
    def __init__(self, provider: _Optional[str] = ..., name: _Optional[str] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ApprovalPolicy(_message.Message):
    __slots__ = ("mode", "auto_approved_tools", "approvers")
    MODE_FIELD_NUMBER: _ClassVar[int]
    AUTO_APPROVED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    APPROVERS_FIELD_NUMBER: _ClassVar[int]
    mode: ApprovalMode
    auto_approved_tools: _containers.RepeatedScalarFieldContainer[str]
    approvers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mode: _Optional[_Union[ApprovalMode, str]] = ..., auto_approved_tools: _Optional[_Iterable[str]] = ..., approvers: _Optional[_Iterable[str]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_iterations", "timeout", "approval_timeout", "token_budget", "max_sub_agent_depth")
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    MAX_SUB_AGENT_DEPTH_FIELD_NUMBER: _ClassVar[int]
    max_iterations: int
    timeout: _duration_pb2.Duration
    approval_timeout: _duration_pb2.Duration
    token_budget: int
    max_sub_agent_depth: int
    def __init__(self, max_iterations: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., approval_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., token_budget: _Optional[int] = ..., max_sub_agent_depth: _Optional[int] = ...) -> None: ...

class SubAgent(_message.Message):
    __slots__ = ("agent_id", "tool_name", "description")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    tool_name: str
    description: str
    def __init__(self, agent_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ToolExecution(_message.Message):
    __slots__ = ("sequential", "tool_timeout", "max_consecutive_tool_failures")
    SEQUENTIAL_FIELD_NUMBER: _ClassVar[int]
    TOOL_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_CONSECUTIVE_TOOL_FAILURES_FIELD_NUMBER: _ClassVar[int]
    sequential: bool
    tool_timeout: _duration_pb2.Duration
    max_consecutive_tool_failures: int
    def __init__(self, sequential: _Optional[bool] = ..., tool_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_consecutive_tool_failures: _Optional[int] = ...) -> None: ...

class AgentTool(_message.Message):
    __slots__ = ("name", "description", "parameters", "source", "requires_approval", "mcp_server", "sub_agent_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVER_FIELD_NUMBER: _ClassVar[int]
    SUB_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _struct_pb2.Struct
    source: ToolSource
    requires_approval: bool
    mcp_server: str
    sub_agent_id: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., source: _Optional[_Union[ToolSource, str]] = ..., requires_approval: _Optional[bool] = ..., mcp_server: _Optional[str] = ..., sub_agent_id: _Optional[str] = ...) -> None: ...

class CreateAgentRequest(_message.Message):
    __slots__ = ("agent_id", "agent")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    agent: Agent
    def __init__(self, agent_id: _Optional[str] = ..., agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class CreateAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class GetAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "next_page_token")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    next_page_token: str
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAgentRequest(_message.Message):
    __slots__ = ("agent", "update_mask")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class DeleteAgentRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class ListAgentToolsRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class ListAgentToolsResponse(_message.Message):
    __slots__ = ("tools",)
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[AgentTool]
    def __init__(self, tools: _Optional[_Iterable[_Union[AgentTool, _Mapping]]] = ...) -> None: ...

class DeleteAgentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
