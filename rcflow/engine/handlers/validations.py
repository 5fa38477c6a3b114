"""The handler that validates an RC: commands here, workflows and checks on GitHub, side by side."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from rcflow.engine.handlers.base import Outcome, Record, Scope, done, handles
from rcflow.engine.validations import check_runs as checks_validators
from rcflow.engine.validations import command as command_validators
from rcflow.engine.validations import deployment as deployment_validators
from rcflow.engine.validations import workflow as workflow_validators
from rcflow.engine.validations.poll import Stoppable, Stopped
from rcflow.errors import EffectError
from rcflow.model.effects import RunValidations, ValidationSpec
from rcflow.model.events import EventKind
from rcflow.ports import proc
from rcflow.ports.ci import CI


def _ci(x: Scope) -> CI:
    ci = x.ports.ci if x.ports.ci is not None else x.forge
    if not isinstance(ci, CI):
        raise EffectError(
            f"workflow and checks validations run on GitHub, not on the {x.forge.name} "
            "forge: nothing was validated",
            hint='set forge = "github" (and github_repository) in the configuration',
        )
    return ci


@handles(RunValidations)
def run_validations(x: Scope, e: RunValidations) -> Outcome:
    commands = tuple(v for v in e.validations if v.kind == "command")
    remote = [v for v in e.validations if v.kind != "command"]
    ci = Stoppable(_ci(x)) if remote else None
    # Set (under lock) when the run stops: no event is appended after it.
    stop = ci.stop if ci is not None else threading.Event()
    lock = threading.Lock()
    finished: dict[str, command_validators.Outcome] = {}
    errors: list[BaseException] = []
    specs = {v.name: v for v in e.validations}

    # Results still to come: the last one rides with validate_completed and the lease's release.
    outstanding = [len(e.validations)]

    def append(kind: str, name: str, data: Mapping[str, Any], *, result: bool = False) -> None:
        # Recorded at once, not in the outcome: a dispatched run must be in the ledger before
        # the wait (a re-run re-attaches to it), a result as soon as it is known; except the
        # last result, which rides with validate_completed in the lease's release, the push
        # that follows at once (an interrupt pushes it too). One at a time, append and push:
        # a step's writes are the same sequence whatever the threads' timing (the crash tests
        # fail each write in turn). Every event names what ran (command, workflow and inputs,
        # check names).
        evidence = specs[name].evidence() if name in specs else {}
        with lock:
            if stop.is_set():
                raise Stopped
            event = Record(kind, f"{e.tag}/{name}", {"sha": e.sha, **data, **evidence})
            if not result:
                x.record(event)
                return
            outstanding[0] -= 1
            x.record_later(event)
            if outstanding[0] > 0:
                x.flush()

    def record(o: command_validators.Outcome) -> None:
        # Each result is bound to the sha it ran on, and recorded as soon as it is known (from
        # the thread that ran it): a run stopped later keeps it, and a re-run does not repeat it.
        kind = EventKind.VALIDATION_PASSED if o.passed else EventKind.VALIDATION_FAILED
        append(kind, o.name, _result(o), result=True)
        finished[o.name] = o

    def on_github(spec: ValidationSpec) -> None:
        assert ci is not None  # noqa: S101 - set whenever there is a remote validation
        try:
            if spec.kind == "workflow":
                o = workflow_validators.run(
                    ci,
                    spec,
                    tag=e.tag,
                    sha=e.sha,
                    record=lambda kind, data: append(kind, spec.name, data),
                    progress=x.ports.validation_progress,
                )
            elif spec.kind == "deployment":
                o = deployment_validators.run(
                    ci, spec, sha=e.sha, progress=x.ports.validation_progress
                )
            else:
                o = checks_validators.run(ci, spec, sha=e.sha, progress=x.ports.validation_progress)
            record(o)
        except Stopped:
            pass
        except BaseException as exc:  # reported by the main thread, after the others
            errors.append(exc)

    # Waiting on GitHub runs beside the commands; the threads are daemons, so an interrupt
    # ends the run at once (what was dispatched is in the ledger: a re-run re-attaches).
    threads = [
        threading.Thread(target=on_github, args=(spec,), name=f"rcflow:{spec.name}", daemon=True)
        for spec in remote
    ]
    try:
        for t in threads:
            t.start()
        # Workflows and checks wait in their own threads, not in a command slot.
        command_validators.run_all(
            x.git,
            commands,
            tag=e.tag,
            sha=e.sha,
            version=e.version,
            progress=x.ports.validation_progress,
            jobs=e.jobs,
            on_done=record,
        )
        for t in threads:
            while t.is_alive():  # in slices: a signal must reach the main thread (proc)
                t.join(proc.SIGNAL_POLL)
    except BaseException:
        # Under the lock: an append under way ends first, none starts after (the lease
        # release that follows an interrupt must not race a validation's event).
        with lock:
            stop.set()
        raise
    ordered = [finished[v.name] for v in e.validations if v.name in finished]
    x.results.extend(ordered)
    if errors:
        # Not a verdict on the RC (a token, a network): nothing more is recorded, and a
        # re-run waits for what was dispatched.
        raise errors[0]
    failed = [o.name for o in ordered if not o.passed and o.required]
    completed = Record(
        EventKind.VALIDATE_COMPLETED,
        e.tag,
        {"sha": e.sha, "passed": not failed, "ran": [o.name for o in ordered]},
    )
    if failed:
        return Outcome("failed", ", ".join(failed), (completed,))
    return done("", completed)


def _result(o: command_validators.Outcome) -> dict[str, Any]:
    """A validation result's ledger data: the same keys whatever ran it (plus its own facts)."""
    conclusion = o.conclusion or (
        "success" if o.passed else "timed_out" if o.detail.startswith("timed out") else "failure"
    )
    return {
        **o.facts,
        "kind": o.kind,
        "duration": o.duration,
        "detail": o.detail,
        "log": o.log,
        "required": o.required,
        "conclusion": conclusion,
        "url": o.url,
    }
