"""Handlers for `[hooks]` commands and for the ledger events a plan records explicitly."""

from __future__ import annotations

from rcflow.engine.handlers.base import Outcome, Record, Scope, done, handles, skipped
from rcflow.engine.validations import command as command_validators
from rcflow.errors import EffectError
from rcflow.model import ledger
from rcflow.model.effects import RecordEvent, RunHook
from rcflow.model.events import EventKind


@handles(RunHook)
def run_hook(x: Scope, e: RunHook) -> Outcome:
    if ledger.has(x.events, EventKind.HOOK_SUCCEEDED, e.key):
        return skipped("it already succeeded")
    log = x.git.git_dir / "rcflow" / "logs" / e.tag / f"{e.hook}.log"
    ok, detail = command_validators.run_once(
        e.command, cwd=x.git.root, env=dict(e.env), log=log, timeout=e.timeout
    )
    data = {"detail": detail, "log": str(log)}
    if not ok:
        error = EffectError(
            f"the {e.hook} hook failed ({detail}); its output is in {log}", hint=None
        )
        return Outcome("failed", detail, (Record(EventKind.HOOK_FAILED, e.key, data),), error)
    return done("", Record(EventKind.HOOK_SUCCEEDED, e.key, data))


@handles(RecordEvent)
def record_event(x: Scope, e: RecordEvent) -> Outcome:
    # A crash between an effect and its event leaves the event missing; a crash after the
    # append but before the run noticed leaves it present: only the newest event counts, and
    # only if it says the same (a second bump to a version records its own commit and origin).
    latest = next((v for v in reversed(x.events) if v.key == e.key), None)
    if (
        latest is not None
        and latest.kind == e.event
        and all(latest.data.get(k) == v for k, v in e.data.items())
    ):
        return skipped("already recorded")
    return done("", Record(e.event, e.key, e.data))
