"""Run overrides as the snapshot records them, and which models take which sampling option."""

from __future__ import annotations

from google.protobuf import duration_pb2
from runwire.v1 import agent_pb2, run_pb2

from runwire_server.service.core.spec import LimitOverrides, RunOverrides, RunSpec
from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.runtimes.router import _overrides_of, _sampling_violations


def test_instructions_are_appended_after_a_blank_line() -> None:
    extra = RunOverrides(instructions="Answer in French.")
    assert extra.instructions_after("Be kind.") == "Be kind.\n\nAnswer in French."
    assert extra.instructions_after("") == "Answer in French."
    assert RunOverrides().instructions_after("Be kind.") == "Be kind."


def test_overrides_from_the_request() -> None:
    message = run_pb2.RunOverrides(
        instructions="x",
        temperature=0.0,
        max_output_tokens=5,
        limits=agent_pb2.Limits(
            max_iterations=2, approval_timeout=duration_pb2.Duration(seconds=3, nanos=500_000_000)
        ),
    )
    overrides = _overrides_of(message)
    assert overrides == RunOverrides(
        instructions="x",
        temperature=0.0,  # set to zero is set
        max_output_tokens=5,
        limits=LimitOverrides(max_iterations=2, approval_timeout_seconds=3.5),
    )
    assert overrides.sampling() == {"temperature": 0.0, "max_output_tokens": 5}
    # The snapshot carries them through the Temporal contract's JSON unchanged.
    spec = RunSpec(run_id="r", agent_id="a", prompt="p", provider="scripted", overrides=overrides)
    assert RunSpec.model_validate_json(spec.model_dump_json()) == spec


def test_sampling_needs_the_option_on_every_model() -> None:
    providers = ProviderRegistry()
    agent = agent_pb2.Agent(
        model=agent_pb2.Model(provider="openai"),
        fallback_models=[
            agent_pb2.Model(provider="anthropic"),
            agent_pb2.Model(provider="scripted"),
        ],
    )
    assert _sampling_violations(providers, agent, RunOverrides(instructions="only text")) == {}
    violations = _sampling_violations(providers, agent, RunOverrides(top_p=0.5))
    assert list(violations) == ["overrides.top_p"]
    assert "fallback_models[1] (provider 'scripted')" in violations["overrides.top_p"]
    assert "model (provider" not in violations["overrides.top_p"]
    http_only = agent_pb2.Agent(
        model=agent_pb2.Model(provider="anthropic"),
        fallback_models=[agent_pb2.Model(provider="openai")],
    )
    assert (
        _sampling_violations(providers, http_only, RunOverrides(temperature=1, max_output_tokens=9))
        == {}
    )
