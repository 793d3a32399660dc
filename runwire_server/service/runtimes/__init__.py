"""What executes runs, and the lifecycle shared by every runtime.

Modules (imported on their own: ``temporal`` loads the Temporal SDK):

- ``base``: the ``Runtime`` protocol;
- ``router``: ``RunRouter``, which creates runs and routes calls about them;
- ``recorder``: ``RunRecorder``, the event log and the records projected from it;
- ``inprocess``: ``InProcessRuntime``, runs as asyncio tasks of this process;
- ``temporal``: ``TemporalRuntime``, the client side of ``runwire.AgentRun``;
- ``temporal_contract``: the workflow's name, updates and activity inputs, shared
  with the worker;
- ``payload_codec``: the claim-check codec that keeps large payloads out of
  workflow history.
"""

__all__ = [
    "base",
    "inprocess",
    "payload_codec",
    "recorder",
    "router",
    "temporal",
    "temporal_contract",
]
