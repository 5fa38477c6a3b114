from tests.conftest import Project, Hooks
from rcflow import commands
from rcflow.steps.bump import BumpArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.validate import ValidateArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rollback import RollbackArgs
import pytest

def validated(p):
    p.step("bump", BumpArgs("auto")); p.step("rc", RcArgs()); p.step("validate", ValidateArgs())

def test_crash(make_project) -> None:
    for k in range(20):
        project = make_project()
        validated(project)
        ctx, f = project.failing_ctx(after=k)
        try:
            commands.run_step(ctx, "promote", PromoteArgs(), dry_run=False, hooks=Hooks())
            print(k, "no crash"); break
        except Exception as exc:
            assert type(exc).__name__ == "Crash"
            r = project.cli("promote")
            print(k, "crash at", f.failed_call, "rerun", r.exit_code, r.stderr[-200:].replace("\n", " | "))

def test_crash_rb(make_project) -> None:
    for k in range(20):
        project = make_project()
        project.step("bump", BumpArgs("auto")); project.step("rc", RcArgs())
        ctx, f = project.failing_ctx(after=k)
        try:
            commands.run_step(ctx, "rollback", RollbackArgs(), dry_run=False, hooks=Hooks())
            print(k, "no crash"); break
        except Exception as exc:
            assert type(exc).__name__ == "Crash"
            r = project.cli("rollback")
            print(k, "crash at", f.failed_call, "rerun", r.exit_code, project.kinds(), r.stderr[-200:].replace("\n", " | "))
