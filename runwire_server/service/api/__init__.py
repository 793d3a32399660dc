"""The RPC logic per proto service: validation, proto <-> domain conversion, errors.

``agents.AgentServicer``, ``runs.RunServicer``, ``approvals.ApprovalServicer`` and
``threads.ThreadServicer`` implement ``runwire.v1``; ``errors`` maps ``RunwireError``
to ``google.rpc.Status`` once; ``convert`` holds the conversions.
"""

__all__ = ["agents", "approvals", "convert", "errors", "runs", "threads"]
