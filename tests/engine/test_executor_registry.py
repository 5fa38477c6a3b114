"""The typed executor: one handler per effect type, and only the loop writes the ledger.

The plan is the promise: every ledger event an apply appends is of a kind its plan lists
(`records` in each effect's JSON), so a dry run shows every write.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rcflow.engine import handlers
from rcflow.engine.executor import Executor, Ports
from rcflow.engine.handlers.base import HANDLERS, Outcome, Record, Scope, done, handles
from rcflow.errors import EffectError
from rcflow.model import effects
from rcflow.model.effects import Effect, RecordEvent
from rcflow.model.events import EventKind
from rcflow.model.ledger import Event
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.project import Project


def concrete_effects() -> set[type[Effect]]:
    return {
        value
        for value in vars(effects).values()
        if isinstance(value, type)
        and issubclass(value, Effect)
        and value is not Effect
        and value.__module__ == effects.__name__
    }


def test_every_effect_type_has_exactly_one_handler() -> None:
    kinds = concrete_effects()
    # Every `class X(Effect)` in the module's source is found (none hides behind an alias).
    tree = ast.parse(Path(effects.__file__).read_text(encoding="utf-8"))
    declared = {
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(isinstance(b, ast.Name) and b.id == "Effect" for b in node.bases)
    }
    assert {k.__name__ for k in kinds} == declared
    missing = sorted(k.__name__ for k in kinds - set(HANDLERS))
    assert missing == [], f"effects without a handler: {missing}"
    assert set(HANDLERS) <= kinds  # no handler for something that is not an effect
    # Each handler is a distinct function that declares the type it handles.
    assert len({id(h) for h in HANDLERS.values()}) == len(HANDLERS)
    for kind, handler in HANDLERS.items():
        annotation = inspect.signature(handler).parameters["e"].annotation
        assert annotation in (kind, kind.__name__), (kind, handler)


def test_a_second_handler_for_a_type_is_refused() -> None:
    with pytest.raises(TypeError, match="RecordEvent has two handlers"):
        handles(RecordEvent)(lambda x, e: done())
    assert HANDLERS[RecordEvent] is handlers.hooks.record_event


def test_the_effect_kinds_and_event_kinds_are_unique() -> None:
    names = [k.kind for k in concrete_effects()]
    assert len(names) == len(set(names))
    for kind in concrete_effects():
        assert all(isinstance(r, EventKind) for r in kind.records), kind


def test_handlers_never_touch_the_ledger_writer() -> None:
    """Handlers return events or record through the scope; the writer is the loop's alone."""
    root = Path(handlers.__file__).parent
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert "LedgerWriter" not in names, path
        ledger_writes = {"writer", "_writer", "commit_tree", "commit_tree_files", "update_ref"}
        assert not ledger_writes & attrs, path


# -- the loop, with a writer that only records what it is asked to append ----------------------


class FakeWriter:
    remote = "origin"

    def __init__(self) -> None:
        self.events: list[Event] = []

        self.deferred: list[bool] = []
        self.flushes = 0

    def moved(self) -> None:
        """HEAD may have moved: the real writer reads it again for the next event."""

    def append(self, kind: str, key: str, data: Any, *, defer: bool = False) -> Event:
        event = Event(kind, key, "2026-01-01T00:00:00Z", "me", "run", dict(data))
        self.events.append(event)
        self.deferred.append(defer)
        return event

    def flush(self, refspecs: Any = ()) -> None:
        self.flushes += 1


@dataclass(frozen=True)
class Probe(Effect):
    """A test-only effect whose handler returns whatever the test says."""

    kind: ClassVar[str] = "probe"
    records: ClassVar[tuple[EventKind, ...]] = (EventKind.HOOK_SUCCEEDED,)
    event: str = EventKind.HOOK_SUCCEEDED
    fail: bool = False

    def describe(self) -> str:
        return "probe"


def probe(x: Scope, e: Probe) -> Outcome:
    event = Record(e.event, "probe", {"n": 1})
    if e.fail:
        return Outcome("failed", "it failed", (event,), EffectError("the probe failed"))
    return done("ran", event)


def executor(writer: FakeWriter, seen: list[tuple[str, str]]) -> Executor:
    ports = Ports(git=None, forge=None)  # type: ignore[arg-type]
    return Executor(ports, writer, lambda e, o: seen.append((e.describe(), o)))  # type: ignore[arg-type]


def test_the_loop_appends_what_the_handler_returns_then_reports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(HANDLERS, Probe, probe)
    writer, seen = FakeWriter(), []
    applied = executor(writer, seen).apply((Probe(),))
    assert [(e.kind, e.key, dict(e.data)) for e in writer.events] == [
        ("hook_succeeded", "probe", {"n": 1})
    ]
    assert seen == [("probe", "done: ran")]
    assert applied[0].outcome == "done: ran"


def test_a_recorded_failure_is_appended_before_it_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(HANDLERS, Probe, probe)
    writer, seen = FakeWriter(), []
    with pytest.raises(EffectError, match="the probe failed"):
        executor(writer, seen).apply((Probe(fail=True),))
    assert [e.kind for e in writer.events] == ["hook_succeeded"]
    assert seen == []


def test_an_event_the_plan_does_not_show_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(HANDLERS, Probe, probe)
    writer, seen = FakeWriter(), []
    with pytest.raises(EffectError, match="Probe recorded promoted, which its plan does not show"):
        executor(writer, seen).apply((Probe(event=EventKind.PROMOTED),))
    assert writer.events == []


def test_an_effect_without_a_handler_is_an_error_not_a_silent_skip() -> None:
    writer, seen = FakeWriter(), []
    with pytest.raises(EffectError, match="no handler applies Probe"):
        executor(writer, seen).apply((Probe(),))
    assert writer.events == []


# -- a whole release: the dry run lists every event the apply appends -------------------------

CONFIG = '[[validate]]\nname = "unit"\nrun = "true"\n\n[hooks]\nafter_promote = "true"\n'


def release_events(p: Project) -> list[dict[str, Any]]:
    return [
        e for e in p.ledger() if not e["kind"].startswith("lease_") and e["kind"] != "step_failed"
    ]


@pytest.mark.parametrize("with_rollback", [False, True])
def test_every_ledger_write_of_a_cycle_is_in_its_plan(
    make_project: Any, with_rollback: bool
) -> None:
    p = make_project(config=CONFIG)
    steps: list[tuple[str, Any]] = [
        ("bump", BumpArgs("auto")),
        ("rc", RcArgs()),
        ("validate", ValidateArgs()),
        ("promote", PromoteArgs()),
    ]
    if with_rollback:
        steps.append(("rollback", RollbackArgs()))
    for step, args in steps:
        planned = p.step(step, args, dry_run=True).plan.to_json()
        shown = {kind for effect in planned["effects"] for kind in effect["records"]}
        before = len(release_events(p))
        result = p.step(step, args)
        assert result.status == "applied", (step, result.applied)
        written = [e["kind"] for e in release_events(p)[before:]]
        assert written, step  # each step records something
        assert set(written) <= shown, (step, written, planned["effects"])
    kinds = [e["kind"] for e in release_events(p)]
    assert {
        "bumped",
        "rc_tagged",
        "validation_passed",
        "validate_completed",
        "hook_succeeded",
    } <= set(kinds)


def test_the_json_plan_lists_the_events_each_effect_records(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    result = p.run("bump", "auto", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    effects_json = result.json()["plan"]["effects"]
    assert all("records" in e for e in effects_json)
    recorded = [e for e in effects_json if e["records"]]
    assert recorded and all(e["kind"] == "record_event" for e in recorded)
    assert {k for e in recorded for k in e["records"]} == {"bumped"}
    assert p.ledger() == []
