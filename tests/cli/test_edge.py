"""The edge (issue 13): views computed from the model, alerts as effects the engine applies, a
rehearsal that reports data, and a `status --json` that loads no drawing or effect code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from rcflow.commands import context
from rcflow.engine import alerts
from rcflow.engine.executor import Executor, Ports
from rcflow.model.effects import CloseAlertIssue, Effect, OpenAlertIssue, SendAlert
from rcflow.model.version import parse
from rcflow.model.views import status_view
from tests.support.project import Project

# -- views ------------------------------------------------------------------------------------


def test_in_sync_is_read_from_the_model_not_from_the_problem_texts(project: Project) -> None:
    ctx = project.ctx()
    snap, release = context.status(ctx)
    assert status_view(snap, release, ctx.config).in_sync is True

    # A problem that merely reads like tag drift does not make the clone out of sync ...
    worded = replace(release, problems=("tag v9.9.9 exists here but not on origin",))
    assert status_view(snap, worded, ctx.config).in_sync is True
    # ... and a tag that does differ does, whatever the problems say.
    drifted = replace(release, problems=(), unsynced_tags=frozenset({"v1.3.0"}))
    assert status_view(snap, drifted, ctx.config).in_sync is False


def test_a_local_only_tag_is_an_unsynced_fact_and_the_json_is_the_view(project: Project) -> None:
    project.git("tag", "-a", "v1.4.0-rc.1", "-m", "local only")
    ctx = project.ctx()
    snap, release = context.status(ctx)

    assert release.unsynced_tags == frozenset({"v1.4.0-rc.1"})
    view = status_view(snap, release, ctx.config)
    assert view.in_sync is False
    document = project.status()
    assert document == json.loads(json.dumps(view.to_json(), default=str))


# -- alerts are planned as data ----------------------------------------------------------------


def _config(project: Project, notify: str) -> Any:
    project.write("rcflow.toml", "[notify]\n" + notify)
    return project.ctx().config


def test_a_failure_plans_the_post_and_the_issue_with_the_failing_runs_context(
    project: Project,
) -> None:
    config = _config(project, 'webhook_env = "HOOK"\nissue = true\n')

    plan = alerts.failure_plan(
        config,
        "github",
        parse("1.4.0"),
        message="validate failed: unit",
        blockers=("b1",),
        state="rejected (v1.4.0-rc.1)",
        resume="rcflow validate --yes",
        run_url="https://ci.example/run/7",
        webhook=True,
    )

    post, issue = plan.effects
    assert post == SendAlert(
        "HOOK",
        "validate failed: unit",
        ("b1",),
        "rejected (v1.4.0-rc.1)",
        "rcflow validate --yes",
        "https://ci.example/run/7",
    )
    assert post.payload()["text"] == (
        "rcflow failed: validate failed: unit\n• b1\nstate: rejected (v1.4.0-rc.1)\n"
        "resume with: rcflow validate --yes\nhttps://ci.example/run/7"
    )
    assert isinstance(issue, OpenAlertIssue)
    assert issue.title == "rcflow: the 1.4 release is failing"
    assert issue.body.startswith("validate failed: unit\n\n- • b1\n- state: rejected")
    assert "HOOK" in post.describe()


def test_no_webhook_and_no_github_plan_no_effect_but_say_why(project: Project) -> None:
    config = _config(project, 'webhook_env = "HOOK"\nissue = true\n')

    plan = alerts.failure_plan(config, "local", None, message="m", webhook=False)

    assert plan.effects == ()
    assert plan.notes == ("[notify] issue needs the github forge: no issue was opened",)
    assert alerts.recovery_plan(config, "local", None, step="rc", run_url=None).effects == ()
    closing = alerts.recovery_plan(config, "github", None, step="rc", run_url=None).effects
    assert closing == (
        CloseAlertIssue("rcflow: the next release is failing", "`rcflow rc` succeeded."),
    )


# -- alerts are applied by the executor -------------------------------------------------------


class Issues:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str, str]] = []
        self.name = "github"

    def report_issue(self, title: str, body: str) -> str:
        if self.fail:
            raise OSError("GitHub is down")
        self.calls.append(("report", title, body))
        return "https://example/issues/1"

    def resolve_issue(self, title: str, comment: str) -> str | None:
        self.calls.append(("resolve", title, comment))
        return None if len(self.calls) > 2 else "https://example/issues/1"


def _apply(project: Project, effects: tuple[Effect, ...], **ports: Any) -> list[str]:
    ctx = project.ctx()
    reported: list[str] = []
    forge = ports.pop("forge", ctx.forge)
    executor = Executor(Ports(ctx.git, forge, **ports), None, lambda e, o: reported.append(o))
    applied = executor.apply(effects)
    assert [a.outcome for a in applied] == reported
    return reported


def test_the_executor_posts_the_alert_and_keeps_the_issue(project: Project) -> None:
    posted: list[Mapping[str, Any]] = []
    issues = Issues()
    alert = SendAlert("HOOK", "promote refused", ("no release in flight",))
    effects: tuple[Effect, ...] = (
        alert,
        OpenAlertIssue("rcflow: the 1.4 release is failing", "body"),
        CloseAlertIssue("rcflow: the 1.4 release is failing", "`rcflow rc` succeeded."),
        CloseAlertIssue("rcflow: the 1.4 release is failing", "`rcflow rc` succeeded."),
    )

    outcomes = _apply(project, effects, forge=issues, webhook=posted.append)

    assert posted == [alert.payload()]
    assert outcomes == [
        "done",
        "done: https://example/issues/1",
        "done: https://example/issues/1",
        "skipped: no open alert issue",
    ]
    assert [c[0] for c in issues.calls] == ["report", "resolve", "resolve"]
    assert project.ledger() == []  # an alert reports a run; it is no release fact


def test_a_failed_alert_is_an_outcome_never_an_error(project: Project) -> None:
    def dead(payload: Mapping[str, Any]) -> None:
        raise ConnectionRefusedError("http://secret@127.0.0.1:9")

    effects: tuple[Effect, ...] = (
        SendAlert("HOOK", "m"),
        OpenAlertIssue("t", "b"),
    )
    assert _apply(project, effects, forge=Issues(fail=True), webhook=dead) == [
        "failed: could not send the alert (ConnectionRefusedError)",
        "failed: could not update the alert issue: OSError",
    ]
    # No webhook port, a forge without issues (the local one):
    assert _apply(project, (SendAlert("HOOK", "m"), OpenAlertIssue("t", "b"))) == [
        "skipped: $HOOK is not set",
        "failed: [notify] issue needs the github forge: no issue was opened",
    ]


# -- rehearse reports data ---------------------------------------------------------------------


class Silent:
    def confirm(self, plan: Any) -> bool:
        return True

    def effect(self, effect: Any, outcome: str) -> None:
        pass

    def validation(self, name: str, what: str, detail: str) -> None:
        pass

    def note(self, text: str) -> None:
        pass


def test_the_demo_rehearsal_reports_events_and_returns_its_steps() -> None:
    from rcflow.commands import rehearse

    events: list[Any] = []
    done = rehearse.run(events.append, Silent(), source=None, part="auto", keep=False)

    assert done.exit_code == 0
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["Sandbox", "Status"]
    assert kinds[-3:] == ["Ledger", "Status", "Complete"]
    started = [e.command for e in events if isinstance(e, rehearse.StepStarted)]
    assert started == [
        "rcflow bump auto",
        "rcflow rc",
        "rcflow promote",
        "rcflow validate",
        "rcflow promote",
        "rcflow promote",
    ]
    [refused] = [e for e in events if isinstance(e, rehearse.StepRefused)]
    assert refused.step == "promote"
    assert [s["exit_code"] for s in done.steps] == [0, 0, 3, 0, 0, 0]
    assert events[-2].release.state.value == "released"


# -- the status path stays light --------------------------------------------------------------


@pytest.mark.parametrize("json_flag", [True, False])
def test_status_loads_no_effect_or_alert_code(project: Project, json_flag: bool) -> None:
    argv = ["status", "-C", str(project.root), *(["--json"] if json_flag else [])]
    probe = (
        "import sys; from rcflow.cli.main import main; "
        f"code = main({argv!r}); "
        "loaded = sorted(m for m in sys.modules if m.startswith(('rcflow', 'rich'))); "
        "print(loaded, file=sys.stderr); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = set(eval(result.stderr.strip().splitlines()[-1]))  # noqa: S307 - our own list
    assert "rcflow.model.views" in loaded  # the probe saw the imports at all
    for heavy in (
        "rcflow.engine.executor",
        "rcflow.engine.alerts",
        "rcflow.engine.registries",
        "rcflow.model.effects",
        "rcflow.commands.alerts",
    ):
        assert heavy not in loaded, heavy
    assert ("rich" in loaded) is not json_flag  # --json draws nothing: no rich
    assert ("rcflow.cli.console" in loaded) is not json_flag


def test_doctor_plans_the_pipeline_alert_issue_as_an_effect() -> None:
    from rcflow.model.findings import Finding

    error = Finding("version.mismatch", "error", "v1.3.0-rc.2 pinned", "pin v1.3.0", "deploy:3")
    warning = Finding("state.unfinished", "warning", "w", "run it")

    [opening] = alerts.doctor_plan([error, warning], "https://ci.example/run/7").effects
    assert isinstance(opening, OpenAlertIssue)
    assert opening.title == alerts.DOCTOR_ALERT_TITLE
    assert "- **version.mismatch** (deploy:3): v1.3.0-rc.2 pinned. Fix: pin v1.3.0" in opening.body
    assert (
        "Run: https://ci.example/run/7" in opening.body and "state.unfinished" not in opening.body
    )

    [closing] = alerts.doctor_plan([warning], None).effects
    assert closing == CloseAlertIssue(
        alerts.DOCTOR_ALERT_TITLE,
        "`rcflow doctor` finds no error any more.",
        "the pipeline alert issue",
    )
