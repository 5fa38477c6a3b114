"""The workflow and checks validators against a fake CI port: no network, no real time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from rcflow.engine.validations import check_runs as checks
from rcflow.engine.validations import workflow
from rcflow.engine.validations.poll import Schedule, seconds
from rcflow.errors import EffectError
from rcflow.model.config import Config, ValidationConfig
from rcflow.model.effects import ValidationSpec
from rcflow.model.ledger import Event, now_iso
from rcflow.model.states import pending_dispatches, validation_results
from rcflow.ports.ci import CheckFact, Dispatched, RunFact, StatusFact

SHA = "a" * 40
TAG = "v1.4.0-rc.1"


class FakeCI:
    def __init__(self, runs: Sequence[tuple[str, str | None]] = ()) -> None:
        self.now = 1_000_000.0
        self.states = list(runs)
        self.checks: list[list[CheckFact]] = []
        self.statuses: list[list[StatusFact]] = []
        self.dispatches: list[tuple[str, str, dict[str, str]]] = []
        self.reads = 0
        self.cancelled: list[int] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s

    def dispatch_workflow(
        self, workflow: str, ref: str, inputs: Mapping[str, str], *, sha: str, correlation: str
    ) -> Dispatched:
        self.dispatches.append((workflow, ref, dict(inputs)))
        return Dispatched(7, "https://github.example/runs/7")

    def find_run(
        self, workflow: str, *, sha: str, correlation: str, since: float
    ) -> RunFact | None:
        return None

    def get_run(self, run_id: int) -> RunFact:
        self.reads += 1
        status, conclusion = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return RunFact(
            run_id, status, conclusion, f"https://github.example/runs/{run_id}", "", SHA, 0
        )

    def cancel_run(self, run_id: int) -> None:
        self.cancelled.append(run_id)

    def check_runs(self, sha: str) -> Sequence[CheckFact]:
        return self.checks.pop(0) if len(self.checks) > 1 else self.checks[0]

    def commit_statuses(self, sha: str) -> Sequence[StatusFact]:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


def spec(**kw: Any) -> ValidationSpec:
    base: dict[str, Any] = {"name": "e2e", "run": "", "timeout": 600.0, "required": True}
    pending = {k: kw.pop(k) for k in ("run_id", "correlation", "dispatched_at") if k in kw}
    return ValidationSpec(ValidationConfig(**{**base, **kw}), **pending)


def test_workflow_dispatches_records_then_polls_to_the_conclusion() -> None:
    ci = FakeCI([("queued", None), ("in_progress", None), ("completed", "success")])
    recorded: list[tuple[str, dict[str, Any]]] = []
    seen: list[tuple[str, str]] = []

    out = workflow.run(
        ci,
        spec(kind="workflow", workflow="e2e.yml", inputs=(("suite", "full"),)),
        tag=TAG,
        sha=SHA,
        record=lambda kind, data: recorded.append((kind, dict(data))),
        progress=lambda name, what, detail: seen.append((what, detail)),
        correlation_id=lambda: "c0ffee",
    )

    assert ci.dispatches == [
        ("e2e.yml", TAG, {"suite": "full", "tag": TAG, "rcflow_run_id": "c0ffee"})
    ]
    assert [k for k, _ in recorded] == ["validation_dispatching", "validation_dispatched"]
    assert recorded[1][1]["run_id"] == 7
    assert [w for w, _ in seen] == ["dispatched", "queued", "in_progress", "passed"]
    assert (out.passed, out.conclusion, out.url, out.duration) == (
        True,
        "success",
        "https://github.example/runs/7",
        12.5,
    )
    assert out.facts["run_id"] == 7


def test_re_attaching_by_run_id_dispatches_nothing_and_counts_from_the_dispatch() -> None:
    ci = FakeCI([("in_progress", None)])
    s = spec(kind="workflow", workflow="e2e.yml", run_id=7, dispatched_at=ci.now - 590)
    out = workflow.run(
        ci, s, tag=TAG, sha=SHA, record=lambda k, d: pytest.fail(k), progress=lambda *a: None
    )
    assert ci.dispatches == []
    assert (out.passed, out.conclusion) == (False, "timed_out")
    assert out.detail.startswith("e2e.yml timed out after 10m (in_progress)")
    assert ci.reads == 3  # 10 s were left: a look, 5 s, a look, the last 5 s, a last look
    assert ci.cancelled == [7]


def test_a_run_that_cannot_be_cancelled_still_fails_with_the_reason() -> None:
    ci = FakeCI([("in_progress", None)])

    def refuse(run_id: int) -> None:
        raise EffectError("GitHub denied cancelling workflow run 7 (403 Forbidden)")

    ci.cancel_run = refuse  # type: ignore[method-assign]
    s = spec(kind="workflow", workflow="e2e.yml", run_id=7, dispatched_at=ci.now - 600)
    out = workflow.run(
        ci, s, tag=TAG, sha=SHA, record=lambda k, d: pytest.fail(k), progress=lambda *a: None
    )
    assert (out.passed, out.conclusion) == (False, "timed_out")
    assert (
        "run not cancelled: GitHub denied cancelling workflow run 7 (403 Forbidden)" in out.detail
    )


def test_checks_wait_for_missing_and_pending_then_pass() -> None:
    ci = FakeCI()
    ci.checks = [
        [],
        [CheckFact("build", "in_progress", None, "u1")],
        [CheckFact("build", "completed", "skipped", "u1")],
    ]
    ci.statuses = [
        [StatusFact("docs", "pending", None, None)],
        [StatusFact("docs", "success", "u2", None)],
    ]
    seen: list[str] = []
    out = checks.run(
        ci,
        spec(name="ci", kind="checks", checks=("build",), statuses=("docs",)),
        sha=SHA,
        progress=lambda name, what, detail: seen.append(f"{what}: {detail}"),
        schedule=Schedule(first=1.0, factor=2.0, most=4.0),
    )
    assert out.passed and out.conclusion == "success"
    assert seen == [
        "waiting: build not reported, docs pending",
        "waiting: build in_progress, docs success",
        "waiting: build skipped, docs success",
        f"passed: build skipped, docs success on {SHA[:7]}",
    ]
    assert ci.now == 1_000_000.0 + 1.0 + 2.0


def test_pending_dispatches_and_expired_passes() -> None:
    def ev(event: str, name: str, t: float, **data: Any) -> Event:
        return Event(event, f"{TAG}/{name}", now_iso(t), "me", "run", {"sha": SHA, **data})

    events = [
        ev("validation_dispatching", "a", 0, correlation="x"),
        ev("validation_dispatching", "b", 0, correlation="y"),
        ev("validation_dispatched", "b", 1, correlation="y", run_id=3),
        ev("validation_dispatching", "c", 0, correlation="z"),
        ev("validation_passed", "c", 86400, kind="workflow", url="u", conclusion="success"),
        ev("validation_dispatching", "d", 0, correlation="w"),
        ev("validation_not_dispatched", "d", 0, correlation="w", reason="403"),
    ]
    pending = pending_dispatches(events, TAG, SHA)
    assert sorted(pending) == ["a", "b"] and pending["b"].data["run_id"] == 3
    assert pending_dispatches(events, TAG, "b" * 40) == {}

    config = Config(
        root=Path("/r"),
        source="test",
        validations=(
            ValidationConfig("c", "", 60.0, kind="workflow", workflow="e.yml", max_age=3600.0),
        ),
    )
    fresh, _ = validation_results(events, SHA, config, now=86400 + 60)
    stale, _ = validation_results(events, SHA, config, now=86400 + 7200)
    assert [(r.name, r.kind, r.url, r.counts) for r in fresh] == [("c", "workflow", "u", True)]
    assert [(r.expired, r.counts) for r in stale] == [(True, False)]


@pytest.mark.parametrize(
    ("value", "text"), [(5, "5s"), (12.5, "12.5s"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m")]
)
def test_durations_for_people(value: float, text: str) -> None:
    assert seconds(value) == text
