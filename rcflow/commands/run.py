"""The commands, by name: what the CLI, the rehearsal and the tests call.

Each lives in its own module — a step's run in `rcflow.commands.step`, `doctor` in
`rcflow.commands.doctor`, `init` in `rcflow.commands.init_command` — and the read-only views in
`rcflow.commands.context`; this module only gathers them under one import.
"""

from __future__ import annotations

from rcflow.commands.context import Context, events, load_context, load_doctor_context, status
from rcflow.commands.doctor import (
    check_doctor_alert,
    doctor,
    init_drift,
    unfinished_findings,
)
from rcflow.commands.init_command import InitResult, init_facts, run_init
from rcflow.commands.step import Hooks, StepResult, preflight, record_failure, run_step

__all__ = [
    "Context",
    "Hooks",
    "InitResult",
    "StepResult",
    "check_doctor_alert",
    "doctor",
    "events",
    "init_drift",
    "init_facts",
    "load_context",
    "load_doctor_context",
    "preflight",
    "record_failure",
    "run_init",
    "run_step",
    "status",
    "unfinished_findings",
]
