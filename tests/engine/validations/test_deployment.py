"""The deployment validator against a fake CI port: no network, no real time."""

from __future__ import annotations

from typing import Any

from rcflow.engine.validations import deployment
from rcflow.model.config import ValidationConfig
from rcflow.model.effects import ValidationSpec
from rcflow.ports.ci import DeploymentFact

SHA = "a" * 40


class FakeCI:
    """Answers each look with the next fact (the last one is repeated)."""

    def __init__(self, *facts: DeploymentFact | None) -> None:
        self.now = 1_000_000.0
        self.facts = list(facts)
        self.asked: list[tuple[str, str]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s

    def deployment(self, sha: str, environment: str) -> DeploymentFact | None:
        self.asked.append((sha, environment))
        return self.facts.pop(0) if len(self.facts) > 1 else self.facts[0]


def fact(state: str | None, ident: int = 42, **kw: Any) -> DeploymentFact:
    base: dict[str, Any] = {
        "id": ident,
        "environment": "staging",
        "sha": SHA,
        "url": f"https://api.example/deployments/{ident}",
        "created_at": "2026-12-01T10:00:00Z",
        "state": state,
        "status_url": f"https://ci.example/deploy/{ident}" if state else None,
        "environment_url": "https://staging.example" if state else None,
        "status_at": "2026-12-01T10:05:00Z" if state else None,
    }
    return DeploymentFact(**{**base, **kw})


def spec(timeout: float = 600.0) -> ValidationSpec:
    return ValidationSpec(
        ValidationConfig(
            name="staging", run="", timeout=timeout, kind="deployment", deployment="staging"
        )
    )


def run(ci: FakeCI, timeout: float = 600.0) -> tuple[Any, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    out = deployment.run(
        ci, spec(timeout), sha=SHA, progress=lambda name, what, detail: seen.append((what, detail))
    )
    return out, seen


def test_a_successful_deployment_passes_with_its_url_and_time() -> None:
    ci = FakeCI(fact("success"))
    out, seen = run(ci)
    assert ci.asked == [(SHA, "staging")]
    assert (out.passed, out.kind, out.conclusion) == (True, "deployment", "success")
    assert out.url == "https://ci.example/deploy/42"
    assert out.detail == "aaaaaaa deployed to staging at 2026-12-01T10:05:00Z (deployment 42)"
    assert out.facts["deployment_id"] == 42
    assert out.facts["deployed_at"] == "2026-12-01T10:05:00Z"
    assert out.facts["deployment_url"] == "https://api.example/deployments/42"
    assert out.facts["environment_url"] == "https://staging.example"
    assert [w for w, _ in seen] == ["waiting", "passed"]


def test_pending_then_in_progress_then_success_is_waited_for() -> None:
    ci = FakeCI(None, fact(None), fact("pending"), fact("in_progress"), fact("success"))
    out, seen = run(ci)
    assert out.passed and out.duration == 5 + 7.5 + 11.25 + 16.875
    assert [d for w, d in seen if w == "waiting"] == [
        "no deployment of aaaaaaa to staging yet",
        "deployment 42 to staging has no status yet",
        "deployment 42 to staging pending",
        "deployment 42 to staging in_progress",
        "deployment 42 to staging success",
    ]


def test_a_failed_or_errored_deployment_fails_at_once() -> None:
    for state in ("failure", "error"):
        ci = FakeCI(fact(state))
        out, _ = run(ci)
        assert (out.passed, out.conclusion) == (False, state)
        assert out.detail == f"deployment 42 to staging {state}: https://ci.example/deploy/42"
        assert out.duration == 0 and len(ci.asked) == 1
        assert out.facts["deployed_at"] is None


def test_no_deployment_times_out_saying_so() -> None:
    ci = FakeCI(None)
    out, _ = run(ci, timeout=300)
    assert (out.passed, out.conclusion, out.url) == (False, "timed_out", None)
    assert out.detail == "timed out after 5m: no deployment of aaaaaaa to staging yet"
    assert out.facts == {"kind": "deployment", "environment": "staging", "deployment_id": None}
    assert ci.now - 1_000_000.0 == 300


def test_an_inactive_newest_deployment_is_not_current_and_times_out() -> None:
    ci = FakeCI(fact("inactive"))
    out, _ = run(ci, timeout=60)
    assert (out.passed, out.conclusion) == (False, "timed_out")
    assert out.detail == (
        "timed out after 1m: deployment 42 to staging is inactive (a newer deployment replaced it)"
    )


def test_a_redeploy_after_inactive_passes() -> None:
    ci = FakeCI(fact("inactive"), fact("queued", ident=43), fact("success", ident=43))
    out, _ = run(ci)
    assert out.passed and out.facts["deployment_id"] == 43
