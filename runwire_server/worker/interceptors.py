"""Worker interceptors: every activity of a run logs with the run's ids.

An ``AgentRun`` workflow's id is its run id, so an activity's
``activity.info().workflow_id`` names the run; the agent id comes from the
activity's input where it carries one (``ModelCallInput.agent_id``,
``ToolCallInput.agent_id``), and so do the run's labels (``.labels``). Records of
the provider SDKs, httpx and redis-py logged while the activity runs then carry
``run_id``, ``agent_id`` and the labels too
(``runwire_server.service.core.logs.run_context``).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from runwire_server.service.core.logs import run_context


def _agent_id(args: tuple[Any, ...]) -> str:
    for arg in args:
        agent_id = getattr(arg, "agent_id", "")
        if isinstance(agent_id, str) and agent_id:
            return agent_id
    return ""


def _labels(args: tuple[Any, ...]) -> dict[str, str] | None:
    for arg in args:
        labels = getattr(arg, "labels", None)
        if isinstance(labels, dict) and labels:
            return labels
    return None


class _RunLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        args = tuple(input.args)
        with run_context(info.workflow_id or "", _agent_id(args), _labels(args)):
            return await self.next.execute_activity(input)


class RunLogContextInterceptor(Interceptor):
    """Runs each activity inside ``run_context(run_id, agent_id, labels)``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RunLogContext(next)
