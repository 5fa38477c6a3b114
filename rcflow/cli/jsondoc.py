"""The --json view: exactly one document on stdout per command, nothing else there.

The documents' keys are a published contract (scripts and the GitHub action read them): a key
is added, never renamed or removed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcflow.commands.run import InitResult, StepResult
    from rcflow.errors import RcflowError
    from rcflow.model.findings import Finding
    from rcflow.model.ledger import Event
    from rcflow.model.views import StatusView


def write(doc: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def step(result: StepResult, view: StatusView) -> dict[str, Any]:
    return {
        "step": result.step,
        "status": result.status,
        "plan": result.plan.to_json(),
        "applied": [
            {"description": a.effect.describe(), "outcome": a.outcome} for a in result.applied
        ],
        "validations": [
            {
                "name": o.name,
                "passed": o.passed,
                "detail": o.detail,
                "duration": o.duration,
                "log": o.log or None,
                "kind": o.kind,
                "url": o.url,
                "conclusion": o.conclusion,
            }
            for o in result.results
        ],
        "state": view.state,
        "version": view.version,
        "target": view.target,
        "rc": view.rc,
        "stage": view.stage,
        "tag": view.tag,
        "next": list(view.next),
        "problems": list(view.problems),
    }


def init(result: InitResult) -> dict[str, Any]:
    return {
        "step": "init",
        "status": result.status,
        "plan": result.plan.to_json(),
        "applied": [
            {"description": a.effect.describe(), "outcome": a.outcome} for a in result.applied
        ],
        "next_steps": result.next_steps,
    }


def findings(found: Sequence[Finding]) -> dict[str, Any]:
    errors = sum(f.severity == "error" for f in found)
    return {
        "findings": [
            {
                "id": f.id,
                "severity": f.severity,
                "where": f.where,
                "message": f.message,
                "fix": f.fix,
            }
            for f in found
        ],
        "errors": errors,
        "warnings": len(found) - errors,
    }


def log_row(e: Event) -> dict[str, Any]:
    """One ledger event as a row: the `log --json` document's, and what the console prints."""
    return {
        "time": e.time,
        "actor": e.actor,
        "kind": e.kind,
        "key": e.key,
        "run": e.run,
        "data": dict(e.data),
        "id": e.id,
    }


def write_log(rows: Iterable[Mapping[str, Any]], more: Callable[[], bool]) -> None:
    """`{"events": [...], "more": bool}` written row by row, as `write` would write it whole:
    `more` (asked after the rows) is whether older events were left out of this page."""
    out = sys.stdout
    out.write('{\n  "events": [')
    first = True
    for row in rows:
        text = json.dumps(row, indent=2, sort_keys=True, default=str).replace("\n", "\n    ")
        out.write(("\n    " if first else ",\n    ") + text)
        first = False
    out.write("]" if first else "\n  ]")
    out.write(f',\n  "more": {json.dumps(more())}\n}}\n')
    out.flush()


def error(
    err: RcflowError, blockers: Sequence[str], state: str | None, resume: str | None
) -> dict[str, Any]:
    return {
        "error": err.message,
        "exit_code": int(err.exit_code),
        "blockers": list(blockers),
        "hint": err.hint,
        "state": state,
        "resume": resume,
    }
