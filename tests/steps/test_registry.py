"""The step and preflight registries: every step is declared once, and what the CLI, the
resume line, the lease and the preflight do for it comes from that declaration."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import typer

from rcflow.cli.app import app
from rcflow.model.config import ValidationConfig
from rcflow.model.effects import BuildAssets, RunHook, RunValidations, ValidationSpec
from rcflow.model.findings import STEPS as FINDING_STEPS
from rcflow.model.plan import Plan
from rcflow.preflight import CHECKS, DOCTOR
from rcflow.steps import STEPS, base, bump, promote, rc, rollback, validate
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.project import Project

COMMAND = typer.main.get_command(app)


def test_every_step_is_registered_once_in_lifecycle_order() -> None:
    modules = (bump, rc, validate, promote, rollback)
    assert list(STEPS) == ["bump", "rc", "validate", "promote", "rollback"]
    assert [STEPS[m.STEP.name] for m in modules] == [m.STEP for m in modules]
    # The steps a finding may name (`Finding.steps`) are exactly the registered ones.
    assert set(STEPS) == FINDING_STEPS


def test_every_step_is_a_command_with_its_help() -> None:
    commands: dict[str, Any] = COMMAND.commands  # type: ignore[attr-defined]
    names = list(commands)
    # Between status and doctor, as the hand-written commands were.
    assert names[names.index("status") + 1 : names.index("doctor")] == list(STEPS)
    for name, step in STEPS.items():
        assert commands[name].help == step.help
        own = [p.name for p in commands[name].params][: len(step.params)]
        assert own == [p.name for p in step.params]


# Arguments each step is run with, and what `rcflow STEP ...` would say for them.
SAMPLES: list[tuple[str, Any]] = [
    ("bump", BumpArgs("auto")),
    ("bump", BumpArgs("minor")),
    ("bump", BumpArgs("2.0.0")),
    ("rc", RcArgs()),
    ("validate", ValidateArgs()),
    ("validate", ValidateArgs(("unit", "e2e"))),
    ("promote", PromoteArgs()),
    ("rollback", RollbackArgs()),
    ("rollback", RollbackArgs(what="v1.4.0-rc.2")),
    ("rollback", RollbackArgs(what="v1.4.0", delete_tag=True)),
    ("rollback", RollbackArgs(delete_tag=True)),
]


@pytest.mark.parametrize(("name", "args"), SAMPLES)
def test_resume_args_reproduce_the_invocation(name: str, args: Any) -> None:
    step = STEPS[name]
    words = step.resume_args(args)
    parsed = COMMAND.commands[name].make_context(name, [*words, "--yes"])  # type: ignore[attr-defined]
    assert parsed.params["yes"] is True
    assert step.args(parsed.params) == args


def test_a_rollback_resume_leaves_the_reason_to_the_recorded_decision() -> None:
    args = RollbackArgs(what="v1.4.0-rc.1", reason="broken build")
    step = STEPS["rollback"]
    parsed = COMMAND.commands["rollback"].make_context("rollback", step.resume_args(args))  # type: ignore[attr-defined]
    assert step.args(parsed.params) == dataclasses.replace(args, reason="")


def test_preflight_check_ids_are_unique_and_every_named_check_exists() -> None:
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))
    assert set(DOCTOR) <= set(ids)
    for step in STEPS.values():
        assert set(step.checks) <= set(ids), step.name
    # Only what a plan alone decides is never waived.
    assert [c.id for c in CHECKS if not c.waivable] == ["forge"]


def test_each_steps_preflight_policy() -> None:
    assert STEPS["validate"].checks == ()  # validating changes no tag, release or file
    for name in ("rc", "promote"):
        assert "versions" in STEPS[name].checks  # the version references agree first
    for name in ("bump", "rollback"):
        assert "versions" not in STEPS[name].checks  # they are how a mismatch is fixed
        assert STEPS[name].checks == base.REPOSITORY_CHECKS
    # A step without a preflight has no finding to waive.
    validate_options = {o for p in COMMAND.commands["validate"].params for o in p.opts}  # type: ignore[attr-defined]
    rc_options = {o for p in COMMAND.commands["rc"].params for o in p.opts}  # type: ignore[attr-defined]
    assert "--skip-check" not in validate_options
    assert "--skip-check" in rc_options


def test_the_lease_lasts_the_ttl_plus_the_plans_waits(project: Project) -> None:
    config = dataclasses.replace(project.ctx().config, lease_ttl=100.0)

    def spec(name: str, timeout: float) -> ValidationSpec:
        return ValidationSpec(ValidationConfig(name, "true", timeout, True))

    plan = Plan(
        "rc",
        "bumped",
        "",
        effects=(
            BuildAssets("v1.4.0-rc.1", None, "1.4.0-rc.1", "1.4.0rc1", "make", ("dist/*",), 5.0),
            # Validations run side by side: the longest one counts.
            RunValidations("v1.4.0-rc.1", "abc", "1.4.0-rc.1", (spec("a", 10), spec("b", 30))),
            RunHook("after_promote", "v1.4.0", "true", (), 7.0),
        ),
    )
    for step in STEPS.values():
        assert step.lease_ttl(config, plan) == 142.0
        assert step.lease_ttl(config, dataclasses.replace(plan, effects=())) == 100.0


def test_a_run_classifies_the_release_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = base.classify

    def counting(*a: Any) -> Any:
        calls.append(a)
        return real(*a)

    monkeypatch.setattr(base, "classify", counting)
    result = project.step("bump", BumpArgs("minor"), dry_run=True)
    assert result.status == "planned"
    assert len(calls) == 1
    # No planner classifies on its own: they read Facts.release.
    for module in (bump, rc, validate, promote, rollback):
        assert not hasattr(module, "classify"), module.__name__
