import datetime

from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from runwire.v1 import approval_pb2 as _approval_pb2
from runwire.v1 import run_pb2 as _run_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_RUN_STARTED: _ClassVar[EventType]
    EVENT_TYPE_RUN_FINISHED: _ClassVar[EventType]
    EVENT_TYPE_RUN_ERROR: _ClassVar[EventType]
    EVENT_TYPE_STATE_CHANGED: _ClassVar[EventType]
    EVENT_TYPE_STEP_STARTED: _ClassVar[EventType]
    EVENT_TYPE_STEP_FINISHED: _ClassVar[EventType]
    EVENT_TYPE_TEXT_MESSAGE_START: _ClassVar[EventType]
    EVENT_TYPE_TEXT_MESSAGE_CONTENT: _ClassVar[EventType]
    EVENT_TYPE_TEXT_MESSAGE_END: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_DISCARDED: _ClassVar[EventType]
    EVENT_TYPE_REASONING_START: _ClassVar[EventType]
    EVENT_TYPE_REASONING_CONTENT: _ClassVar[EventType]
    EVENT_TYPE_REASONING_END: _ClassVar[EventType]
    EVENT_TYPE_TOOL_CALL_START: _ClassVar[EventType]
    EVENT_TYPE_TOOL_CALL_ARGS: _ClassVar[EventType]
    EVENT_TYPE_TOOL_CALL_END: _ClassVar[EventType]
    EVENT_TYPE_TOOL_CALL_RESULT: _ClassVar[EventType]
    EVENT_TYPE_APPROVAL_REQUESTED: _ClassVar[EventType]
    EVENT_TYPE_APPROVAL_RESOLVED: _ClassVar[EventType]
    EVENT_TYPE_CLIENT_TOOL_CALL_REQUESTED: _ClassVar[EventType]
    EVENT_TYPE_SUB_RUN_STARTED: _ClassVar[EventType]
    EVENT_TYPE_SUB_RUN_FINISHED: _ClassVar[EventType]
    EVENT_TYPE_USAGE: _ClassVar[EventType]

class EventProfile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_PROFILE_UNSPECIFIED: _ClassVar[EventProfile]
    EVENT_PROFILE_ALL: _ClassVar[EventProfile]
    EVENT_PROFILE_NO_DELTAS: _ClassVar[EventProfile]
    EVENT_PROFILE_STATE: _ClassVar[EventProfile]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_RUN_STARTED: EventType
EVENT_TYPE_RUN_FINISHED: EventType
EVENT_TYPE_RUN_ERROR: EventType
EVENT_TYPE_STATE_CHANGED: EventType
EVENT_TYPE_STEP_STARTED: EventType
EVENT_TYPE_STEP_FINISHED: EventType
EVENT_TYPE_TEXT_MESSAGE_START: EventType
EVENT_TYPE_TEXT_MESSAGE_CONTENT: EventType
EVENT_TYPE_TEXT_MESSAGE_END: EventType
EVENT_TYPE_MESSAGE_DISCARDED: EventType
EVENT_TYPE_REASONING_START: EventType
EVENT_TYPE_REASONING_CONTENT: EventType
EVENT_TYPE_REASONING_END: EventType
EVENT_TYPE_TOOL_CALL_START: EventType
EVENT_TYPE_TOOL_CALL_ARGS: EventType
EVENT_TYPE_TOOL_CALL_END: EventType
EVENT_TYPE_TOOL_CALL_RESULT: EventType
EVENT_TYPE_APPROVAL_REQUESTED: EventType
EVENT_TYPE_APPROVAL_RESOLVED: EventType
EVENT_TYPE_CLIENT_TOOL_CALL_REQUESTED: EventType
EVENT_TYPE_SUB_RUN_STARTED: EventType
EVENT_TYPE_SUB_RUN_FINISHED: EventType
EVENT_TYPE_USAGE: EventType
EVENT_PROFILE_UNSPECIFIED: EventProfile
EVENT_PROFILE_ALL: EventProfile
EVENT_PROFILE_NO_DELTAS: EventProfile
EVENT_PROFILE_STATE: EventProfile

class RunEvent(_message.Message):
    __slots__ = ("run_id", "sequence", "create_time", "run_started", "run_finished", "run_error", "state_changed", "step_started", "step_finished", "text_message_start", "text_message_content", "text_message_end", "message_discarded", "reasoning_start", "reasoning_content", "reasoning_end", "tool_call_start", "tool_call_args", "tool_call_end", "tool_call_result", "approval_requested", "approval_resolved", "client_tool_call_requested", "sub_run_started", "sub_run_finished", "usage", "heartbeat")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_STARTED_FIELD_NUMBER: _ClassVar[int]
    RUN_FINISHED_FIELD_NUMBER: _ClassVar[int]
    RUN_ERROR_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    STEP_STARTED_FIELD_NUMBER: _ClassVar[int]
    STEP_FINISHED_FIELD_NUMBER: _ClassVar[int]
    TEXT_MESSAGE_START_FIELD_NUMBER: _ClassVar[int]
    TEXT_MESSAGE_CONTENT_FIELD_NUMBER: _ClassVar[int]
    TEXT_MESSAGE_END_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_DISCARDED_FIELD_NUMBER: _ClassVar[int]
    REASONING_START_FIELD_NUMBER: _ClassVar[int]
    REASONING_CONTENT_FIELD_NUMBER: _ClassVar[int]
    REASONING_END_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_START_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ARGS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_END_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_RESULT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOOL_CALL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    SUB_RUN_STARTED_FIELD_NUMBER: _ClassVar[int]
    SUB_RUN_FINISHED_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    sequence: int
    create_time: _timestamp_pb2.Timestamp
    run_started: RunStarted
    run_finished: RunFinished
    run_error: RunError
    state_changed: StateChanged
    step_started: StepStarted
    step_finished: StepFinished
    text_message_start: TextMessageStart
    text_message_content: TextMessageContent
    text_message_end: TextMessageEnd
    message_discarded: MessageDiscarded
    reasoning_start: ReasoningStart
    reasoning_content: ReasoningContent
    reasoning_end: ReasoningEnd
    tool_call_start: ToolCallStart
    tool_call_args: ToolCallArgs
    tool_call_end: ToolCallEnd
    tool_call_result: ToolCallResult
    approval_requested: ApprovalRequested
    approval_resolved: ApprovalResolved
    client_tool_call_requested: ClientToolCallRequested
    sub_run_started: SubRunStarted
    sub_run_finished: SubRunFinished
    usage: _run_pb2.Usage
    heartbeat: Heartbeat
    def __init__(self, run_id: _Optional[str] = ..., sequence: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_started: _Optional[_Union[RunStarted, _Mapping]] = ..., run_finished: _Optional[_Union[RunFinished, _Mapping]] = ..., run_error: _Optional[_Union[RunError, _Mapping]] = ..., state_changed: _Optional[_Union[StateChanged, _Mapping]] = ..., step_started: _Optional[_Union[StepStarted, _Mapping]] = ..., step_finished: _Optional[_Union[StepFinished, _Mapping]] = ..., text_message_start: _Optional[_Union[TextMessageStart, _Mapping]] = ..., text_message_content: _Optional[_Union[TextMessageContent, _Mapping]] = ..., text_message_end: _Optional[_Union[TextMessageEnd, _Mapping]] = ..., message_discarded: _Optional[_Union[MessageDiscarded, _Mapping]] = ..., reasoning_start: _Optional[_Union[ReasoningStart, _Mapping]] = ..., reasoning_content: _Optional[_Union[ReasoningContent, _Mapping]] = ..., reasoning_end: _Optional[_Union[ReasoningEnd, _Mapping]] = ..., tool_call_start: _Optional[_Union[ToolCallStart, _Mapping]] = ..., tool_call_args: _Optional[_Union[ToolCallArgs, _Mapping]] = ..., tool_call_end: _Optional[_Union[ToolCallEnd, _Mapping]] = ..., tool_call_result: _Optional[_Union[ToolCallResult, _Mapping]] = ..., approval_requested: _Optional[_Union[ApprovalRequested, _Mapping]] = ..., approval_resolved: _Optional[_Union[ApprovalResolved, _Mapping]] = ..., client_tool_call_requested: _Optional[_Union[ClientToolCallRequested, _Mapping]] = ..., sub_run_started: _Optional[_Union[SubRunStarted, _Mapping]] = ..., sub_run_finished: _Optional[_Union[SubRunFinished, _Mapping]] = ..., usage: _Optional[_Union[_run_pb2.Usage, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class EventFilter(_message.Message):
    __slots__ = ("profile", "event_types")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    profile: EventProfile
    event_types: _containers.RepeatedScalarFieldContainer[EventType]
    def __init__(self, profile: _Optional[_Union[EventProfile, str]] = ..., event_types: _Optional[_Iterable[_Union[EventType, str]]] = ...) -> None: ...

class RunStarted(_message.Message):
    __slots__ = ("agent_id", "thread_id", "created_by")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    thread_id: str
    created_by: str
    def __init__(self, agent_id: _Optional[str] = ..., thread_id: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class RunFinished(_message.Message):
    __slots__ = ("state", "output", "finish_reason", "usage")
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    state: _run_pb2.RunState
    output: str
    finish_reason: str
    usage: _run_pb2.Usage
    def __init__(self, state: _Optional[_Union[_run_pb2.RunState, str]] = ..., output: _Optional[str] = ..., finish_reason: _Optional[str] = ..., usage: _Optional[_Union[_run_pb2.Usage, _Mapping]] = ...) -> None: ...

class RunError(_message.Message):
    __slots__ = ("error", "finish_reason", "usage")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    error: _status_pb2.Status
    finish_reason: str
    usage: _run_pb2.Usage
    def __init__(self, error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., finish_reason: _Optional[str] = ..., usage: _Optional[_Union[_run_pb2.Usage, _Mapping]] = ...) -> None: ...

class StateChanged(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _run_pb2.RunState
    def __init__(self, state: _Optional[_Union[_run_pb2.RunState, str]] = ...) -> None: ...

class StepStarted(_message.Message):
    __slots__ = ("step",)
    STEP_FIELD_NUMBER: _ClassVar[int]
    step: int
    def __init__(self, step: _Optional[int] = ...) -> None: ...

class StepFinished(_message.Message):
    __slots__ = ("step",)
    STEP_FIELD_NUMBER: _ClassVar[int]
    step: int
    def __init__(self, step: _Optional[int] = ...) -> None: ...

class TextMessageStart(_message.Message):
    __slots__ = ("message_id", "role")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    role: str
    def __init__(self, message_id: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class TextMessageContent(_message.Message):
    __slots__ = ("message_id", "delta")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    delta: str
    def __init__(self, message_id: _Optional[str] = ..., delta: _Optional[str] = ...) -> None: ...

class TextMessageEnd(_message.Message):
    __slots__ = ("message_id", "text")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    text: str
    def __init__(self, message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class MessageDiscarded(_message.Message):
    __slots__ = ("message_id", "reason")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    reason: str
    def __init__(self, message_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ToolCallStart(_message.Message):
    __slots__ = ("tool_call_id", "tool_call_name", "parent_message_id")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    tool_call_name: str
    parent_message_id: str
    def __init__(self, tool_call_id: _Optional[str] = ..., tool_call_name: _Optional[str] = ..., parent_message_id: _Optional[str] = ...) -> None: ...

class ToolCallArgs(_message.Message):
    __slots__ = ("tool_call_id", "delta")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    delta: str
    def __init__(self, tool_call_id: _Optional[str] = ..., delta: _Optional[str] = ...) -> None: ...

class ToolCallEnd(_message.Message):
    __slots__ = ("tool_call_id", "arguments")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    arguments: str
    def __init__(self, tool_call_id: _Optional[str] = ..., arguments: _Optional[str] = ...) -> None: ...

class ReasoningStart(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class ReasoningContent(_message.Message):
    __slots__ = ("message_id", "delta")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    delta: str
    def __init__(self, message_id: _Optional[str] = ..., delta: _Optional[str] = ...) -> None: ...

class ReasoningEnd(_message.Message):
    __slots__ = ("message_id", "text")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    text: str
    def __init__(self, message_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ToolCallResult(_message.Message):
    __slots__ = ("tool_call_id", "content", "is_error")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    content: str
    is_error: bool
    def __init__(self, tool_call_id: _Optional[str] = ..., content: _Optional[str] = ..., is_error: _Optional[bool] = ...) -> None: ...

class ApprovalRequested(_message.Message):
    __slots__ = ("approval_id", "tool_call_id", "tool_name", "arguments", "expire_time", "run_id")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    tool_call_id: str
    tool_name: str
    arguments: str
    expire_time: _timestamp_pb2.Timestamp
    run_id: str
    def __init__(self, approval_id: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_id: _Optional[str] = ...) -> None: ...

class ApprovalResolved(_message.Message):
    __slots__ = ("approval_id", "tool_call_id", "state", "reason", "resolved_by", "resolve_time", "run_id")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    tool_call_id: str
    state: _approval_pb2.ApprovalState
    reason: str
    resolved_by: str
    resolve_time: _timestamp_pb2.Timestamp
    run_id: str
    def __init__(self, approval_id: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., state: _Optional[_Union[_approval_pb2.ApprovalState, str]] = ..., reason: _Optional[str] = ..., resolved_by: _Optional[str] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_id: _Optional[str] = ...) -> None: ...

class ClientToolCallRequested(_message.Message):
    __slots__ = ("tool_call_id", "tool_name", "arguments")
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    tool_call_id: str
    tool_name: str
    arguments: str
    def __init__(self, tool_call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., arguments: _Optional[str] = ...) -> None: ...

class SubRunStarted(_message.Message):
    __slots__ = ("child_run_id", "agent_id", "tool_call_id")
    CHILD_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    child_run_id: str
    agent_id: str
    tool_call_id: str
    def __init__(self, child_run_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., tool_call_id: _Optional[str] = ...) -> None: ...

class SubRunFinished(_message.Message):
    __slots__ = ("child_run_id", "agent_id", "tool_call_id", "state", "output", "error", "usage")
    CHILD_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    child_run_id: str
    agent_id: str
    tool_call_id: str
    state: _run_pb2.RunState
    output: str
    error: _status_pb2.Status
    usage: _run_pb2.Usage
    def __init__(self, child_run_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., state: _Optional[_Union[_run_pb2.RunState, str]] = ..., output: _Optional[str] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., usage: _Optional[_Union[_run_pb2.Usage, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
