"""Validation on GitHub: a dispatched workflow and required checks, against the test server.

Git is real; GitHub is the test server (every request and response checked against GitHub's
OpenAPI description). Time is fake: the GitHub forge's clock and sleep are replaced, so a
30-minute wait takes as long as its few dozen requests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from ghserver import GitHubServer

from rcflow.adapters.github import GitHubForge
from rcflow.commands import context
from rcflow.commands import run as commands
from rcflow.steps.bump import BumpArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.crash import Crash
from tests.support.ledger import events
from tests.support.on_github import GitHubProject
from tests.support.project import Hooks, Project

RC = "v1.4.0-rc.1"
RUN_NAME = "e2e ${{ inputs.tag }} [${{ inputs.rcflow_run_id }}]"
E2E = '[[validate]]\nname = "e2e"\nworkflow = "e2e.yml"\ntimeout = "10m"\n'
E2E_INPUTS = E2E + 'inputs = { suite = "full" }\n'
CHECKS = '[[validate]]\nname = "ci"\nchecks = ["build", "lint"]\nstatuses = ["ci/docs"]\n'


class FakeTime:
    """The GitHub forge's clock and sleep: a sleep moves the clock on, and may run a hook."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []
        self.hooks: list[Callable[[int], None]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for hook in self.hooks:
            hook(len(self.sleeps))


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    original = context.make_forge

    def make(*args: Any, **kwargs: Any) -> Any:
        forge = original(*args, **kwargs)
        if isinstance(forge, GitHubForge):
            forge.sleep = fake.sleep
            forge.clock = fake.clock
        return forge

    monkeypatch.setattr(context, "make_forge", make)
    return fake


Make = Callable[..., tuple[Project, GitHubServer]]

E2E_WORKFLOW = f"""\
name: e2e
run-name: {RUN_NAME}
on:
  workflow_dispatch:
    inputs:
      tag: {{type: string, required: true}}
      rcflow_run_id: {{type: string, required: false}}
      suite: {{type: string, required: false}}
permissions:
  contents: read
jobs:
  e2e:
    runs-on: ubuntu-latest
    steps:
      - run: echo "$TAG"
        env:
          TAG: ${{{{ inputs.tag }}}}
"""


@pytest.fixture
def make_rc(make_github_project: GitHubProject, fake_time: FakeTime) -> Make:
    """A project on the GitHub test server with RC v1.4.0-rc.1 cut; workflow e2e.yml exists."""

    def make(
        validations: str, *, steps: list[tuple[str, str | None]] | None = None
    ) -> tuple[Project, GitHubServer]:
        # The workflow is in the repository too, as it must be: preflight reads its inputs.
        p, server = make_github_project(
            validations, files={".github/workflows/e2e.yml": E2E_WORKFLOW}
        )
        server.add_workflow(
            ".github/workflows/e2e.yml",
            "e2e",
            run_name=RUN_NAME,
            steps=[("in_progress", None), ("completed", "success")] if steps is None else steps,
        )
        assert p.step("bump", BumpArgs("auto")).status == "applied"
        assert p.step("rc", RcArgs()).status == "applied"
        return p, server

    return make


def sha_of(p: Project) -> str:
    return p.remote_tags()[RC]


def result(p: Project, name: str) -> dict[str, Any]:
    found = [
        e for e in events(p, "validation_passed", "validation_failed") if e["key"] == f"{RC}/{name}"
    ]
    assert found, f"no result for {name}"
    return found[-1]


def validate(p: Project, ctx: commands.Context | None = None, **kw: Any) -> Any:
    return commands.run_step(
        ctx or p.ctx(), "validate", ValidateArgs(**kw), dry_run=False, hooks=Hooks()
    )


# -- a dispatched workflow -------------------------------------------------------------------


def test_a_passing_workflow_and_checks_validate_the_rc_and_promote_it(make_rc: Make) -> None:
    p, server = make_rc(E2E_INPUTS + CHECKS)
    sha = sha_of(p)
    server.add_check_run(sha, "build")
    server.add_check_run(
        sha, "lint", status="queued", conclusion=None, steps=[("completed", "success")]
    )
    server.add_status(sha, "ci/docs", "pending")
    server.schedule_statuses(sha, "ci/docs", ["pending", "success"])
    refused = p.cli("promote")
    assert refused.exit_code == 3 and "has not passed validation" in refused.stderr

    out = p.cli("validate")

    assert out.exit_code == 0, out.stderr
    [run] = server.dispatched()
    dispatching, dispatched = events(p, "validation_dispatching", "validation_dispatched")
    correlation = dispatching["data"]["correlation"]
    assert run.inputs == {"tag": RC, "rcflow_run_id": correlation, "suite": "full"}
    assert run.head_sha == sha and run.display_title == f"e2e {RC} [{correlation}]"
    assert dispatched["data"]["run_id"] == run.id and dispatched["data"]["sha"] == sha
    e2e = result(p, "e2e")
    assert e2e["kind"] == "validation_passed"
    assert {k: e2e["data"][k] for k in ("sha", "kind", "conclusion", "run_id", "workflow")} == {
        "sha": sha,
        "kind": "workflow",
        "conclusion": "success",
        "run_id": run.id,
        "workflow": "e2e.yml",
    }
    assert e2e["data"]["url"].endswith(f"/acme/app/actions/runs/{run.id}")
    assert e2e["data"]["duration"] >= 0
    ci = result(p, "ci")
    assert (ci["kind"], ci["data"]["kind"], ci["data"]["conclusion"]) == (
        "validation_passed",
        "checks",
        "success",
    )
    assert [(c["name"], c["conclusion"]) for c in ci["data"]["checks"]] == [
        ("build", "success"),
        ("lint", "success"),
    ]
    assert [(s["name"], s["conclusion"]) for s in ci["data"]["statuses"]] == [
        ("ci/docs", "success")
    ]
    # In a CI log (no terminal): one line per change of state.
    lines = [line.strip() for line in out.stderr.splitlines()]
    assert [line.split()[1] for line in lines if line.startswith("e2e ")] == [
        "dispatched",
        "queued",
        "in_progress",
        "passed",
    ]
    assert [line for line in lines if line.startswith("ci ")] == [
        "ci waiting build success, lint queued, ci/docs pending",
        "ci waiting build success, lint success, ci/docs pending",
        "ci waiting build success, lint success, ci/docs success",
        f"ci passed build success, lint success, ci/docs success on {sha[:7]}",
    ]

    status = p.status()
    assert status["state"] == "validated"
    shown = {v["name"]: v for v in status["candidates"][0]["validations"]}
    assert (shown["e2e"]["kind"], shown["e2e"]["conclusion"]) == ("workflow", "success")
    assert shown["e2e"]["url"] == e2e["data"]["url"]
    assert (shown["ci"]["kind"], shown["ci"]["url"]) == ("checks", ci["data"]["url"])
    human = p.cli("status").stdout
    assert f"e2e: passed {e2e['time']} workflow success {e2e['data']['url']}" in human

    again = p.cli("validate")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert len(server.dispatched()) == 1

    promoted = p.cli("promote")
    assert promoted.exit_code == 0, promoted.stderr
    assert p.status()["state"] == "released"
    message = p.git("tag", "-l", "--format=%(contents)", "v1.4.0")
    assert f"e2e: passed ({e2e['time']}) workflow {e2e['data']['url']}" in message


@pytest.mark.parametrize(
    ("conclusion", "detail"),
    [("failure", "e2e.yml failure in"), ("cancelled", "e2e.yml cancelled in")],
)
def test_a_failed_or_cancelled_run_rejects_the_rc_and_promote_is_refused(
    make_rc: Make, conclusion: str, detail: str
) -> None:
    p, _server = make_rc(E2E, steps=[("in_progress", None), ("completed", conclusion)])

    out = p.cli("validate")

    assert out.exit_code == 1
    e2e = result(p, "e2e")
    assert e2e["kind"] == "validation_failed"
    assert e2e["data"]["conclusion"] == conclusion
    assert e2e["data"]["detail"].startswith(detail)
    assert f"e2e failed ({detail}" in out.stdout
    assert p.status()["state"] == "rejected"
    refused = p.cli("promote")
    assert refused.exit_code == 3
    assert f"{RC} failed validation (e2e): fix it, then cut a new RC" in refused.stderr


def test_a_run_still_going_at_the_timeout_fails_with_the_reason(
    make_rc: Make, fake_time: FakeTime
) -> None:
    p, server = make_rc(E2E, steps=[("in_progress", None)])

    out = p.cli("validate")

    assert out.exit_code == 1
    detail = result(p, "e2e")["data"]["detail"]
    assert detail.startswith("e2e.yml timed out after 10m (in_progress), run cancelled: http")
    assert result(p, "e2e")["data"]["conclusion"] == "timed_out"
    # The run nobody waits for any more is stopped, so it does not hold runners.
    run_id = result(p, "e2e")["data"]["run_id"]
    assert server.cancelled == [run_id]
    # Backoff: 5 s, growing to at most 30 s, the last wait cut short at the deadline.
    waits = fake_time.sleeps
    assert waits[:3] == [5.0, 7.5, 11.25] and max(waits) == 30.0
    assert sum(waits) == pytest.approx(600.0)
    assert server.count("GET", r"/actions/runs/\d+$") == len(waits) + 1
    assert p.cli("promote").exit_code == 3


def test_a_run_that_stays_queued_never_started(make_rc: Make) -> None:
    p, _server = make_rc(E2E, steps=[])
    assert p.cli("validate").exit_code == 1
    data = result(p, "e2e")["data"]
    assert data["detail"].startswith("e2e.yml never started: still queued after 10m, run cancelled")
    assert data["conclusion"] == "never_started"
    assert _server.cancelled == [data["run_id"]]


def test_without_run_details_the_run_is_found_by_its_correlation_id(make_rc: Make) -> None:
    p, server = make_rc(E2E)
    server.dispatch_run_details = False  # an API version that answers 204
    wf = next(iter(server.workflows))
    # Someone else's dispatch on the same commit is not ours.
    other = server.add_run(wf, head_sha=sha_of(p), event="workflow_dispatch", status="queued")
    server.runs[other].display_title = f"e2e {RC} [someone-else]"

    assert p.cli("validate").exit_code == 0
    dispatched = events(p, "validation_dispatched")[0]["data"]
    assert dispatched["run_id"] != other
    assert server.runs[dispatched["run_id"]].inputs["rcflow_run_id"] == dispatched["correlation"]
    assert result(p, "e2e")["data"]["run_id"] == dispatched["run_id"]


def test_a_run_that_never_appears_fails_as_never_started(make_rc: Make) -> None:
    p, server = make_rc(E2E)
    server.dispatch_run_details = False
    server.dispatch_starts_runs = False

    assert p.cli("validate").exit_code == 1
    data = result(p, "e2e")["data"]
    assert data["conclusion"] == "never_started"
    assert data["detail"].startswith(f"never started: no e2e.yml run for {RC} (id ")
    assert data["detail"].endswith("appeared within 5m")
    assert events(p, "validation_dispatched") == []


def test_a_dispatch_github_refuses_is_an_error_not_a_verdict(make_rc: Make) -> None:
    p, server = make_rc(E2E)
    server.token_permissions["actions"] = "read"

    out = p.cli("validate")

    assert out.exit_code == 1
    assert "GitHub denied dispatching e2e.yml on v1.4.0-rc.1 (403" in out.stderr
    assert "the token needs actions: write" in out.stderr
    assert "rcflow validate" in out.stderr  # how to resume
    assert events(p, "validation_passed", "validation_failed", "validate_completed") == []
    assert p.status()["state"] == "candidate"
    server.token_permissions["actions"] = "write"
    assert p.cli("validate").exit_code == 0  # refused for certain: dispatched anew
    assert len(server.dispatched()) == 1
    assert p.kinds()[2:] == [
        "validation_dispatching",
        "validation_not_dispatched",
        "validation_dispatching",
        "validation_dispatched",
        "validation_passed",
        "validate_completed",
    ]


def test_a_missing_workflow_names_the_file(make_rc: Make) -> None:
    # In the repository (so preflight passes) but not on GitHub's default branch.
    p, _server = make_rc(E2E)
    p.write("rcflow.toml", p.read("rcflow.toml").replace('"e2e.yml"', '"nope.yml"'))
    p.write(".github/workflows/nope.yml", E2E_WORKFLOW)
    p.commit("ci: a workflow GitHub does not have yet")
    p.push()
    # An RC is validated by its own commit's [[validate]]: the new one needs a new RC.
    assert p.step("rc", RcArgs()).status == "applied"
    out = p.cli("validate")
    assert out.exit_code == 1
    assert "GitHub has no workflow nope.yml in acme/app" in out.stderr


# -- crashes: re-attach, never a second dispatch ---------------------------------------------


def test_crash_while_waiting_then_validate_re_attaches_to_the_same_run(
    make_rc: Make, fake_time: FakeTime
) -> None:
    p, server = make_rc(E2E, steps=[("in_progress", None), ("in_progress", None)])

    def crash(n: int) -> None:
        if n == 1:
            raise Crash("killed while waiting")

    fake_time.hooks.append(crash)
    with pytest.raises(Crash):
        validate(p)
    fake_time.hooks.clear()
    [run] = server.dispatched()
    assert p.kinds()[-2:] == ["validation_dispatching", "validation_dispatched"]
    status = p.status()
    assert status["state"] == "candidate"
    [running] = status["candidates"][-1]["running"]
    assert (running["name"], running["run_id"]) == ("e2e", run.id)
    assert f"e2e: dispatched {running['since']}" in p.cli("status").stdout
    plan = p.cli("validate", "--dry-run")
    assert f"wait for e2e (e2e.yml, run {run.id} dispatched before)" in plan.stdout
    assert "waiting for that run, not dispatching another" in plan.stdout
    server.set_run(run.id, status="in_progress", steps=[("completed", "success")])

    out = p.cli("validate")

    assert out.exit_code == 0, out.stderr
    assert len(server.dispatched()) == 1
    assert f"e2e re-attached to run {run.id}" in out.stderr
    assert result(p, "e2e")["data"]["run_id"] == run.id
    assert p.status()["state"] == "validated"


def test_crash_after_the_dispatch_landed_but_before_its_answer_re_attaches_by_correlation(
    make_rc: Make,
) -> None:
    p, server = make_rc(E2E)
    ctx = p.ctx()
    send = ctx.forge.dispatch_workflow  # type: ignore[attr-defined]

    def lost(*args: Any, **kwargs: Any) -> Any:
        send(*args, **kwargs)
        raise Crash("the answer was lost")

    ctx.forge.dispatch_workflow = lost  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        validate(p, ctx)
    assert p.kinds()[-1] == "validation_dispatching"

    out = p.cli("validate")

    assert out.exit_code == 0, out.stderr
    [run] = server.dispatched()
    assert events(p, "validation_dispatched")[0]["data"]["run_id"] == run.id
    assert result(p, "e2e")["data"]["run_id"] == run.id


def test_a_lost_answer_to_the_dispatch_is_looked_up_not_sent_again(make_rc: Make) -> None:
    p, server = make_rc(E2E)
    server.dispatch_run_details = False  # the run is found by its correlation id either way
    server.drop_connection("POST", r"/dispatches$", handled=True)

    assert p.cli("validate").exit_code == 0

    [run] = server.dispatched()
    assert server.count("POST", r"/dispatches$") == 1
    assert result(p, "e2e")["data"]["run_id"] == run.id


def test_commands_and_github_validations_run_side_by_side(make_rc: Make) -> None:
    p, server = make_rc('[[validate]]\nname = "unit"\nrun = "true"\n' + E2E)
    server.add_check_run(sha_of(p), "build")

    out = p.cli("validate", "--json")

    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert [(v["name"], v["kind"], v["passed"]) for v in doc["validations"]] == [
        ("unit", "command", True),
        ("e2e", "workflow", True),
    ]
    assert doc["validations"][1]["url"].endswith(f"/actions/runs/{server.dispatched()[0].id}")
    assert doc["validations"][0]["log"].endswith("unit.log")
    assert sorted(e["key"] for e in events(p, "validation_passed")) == [f"{RC}/e2e", f"{RC}/unit"]
    assert doc["state"] == "validated"


def test_rerun_dispatches_a_new_run_and_a_new_rc_is_validated_afresh(make_rc: Make) -> None:
    p, server = make_rc(E2E)
    assert p.cli("validate").exit_code == 0
    wf = next(iter(server.workflows))
    server.workflows[wf].steps = [("completed", "success")]
    assert p.cli("validate", "--rerun", "e2e").exit_code == 0
    assert len(server.dispatched()) == 2
    p.write("feature.py", "def feature():\n    return 43\n")
    p.commit("fix: answer 43")
    p.push()
    assert p.cli("rc").exit_code == 0
    assert p.status()["state"] == "candidate"  # the pass was for the other sha
    assert p.cli("validate").exit_code == 0
    assert [r.inputs["tag"] for r in server.dispatched()] == [RC, RC, "v1.4.0-rc.2"]


# -- required checks and statuses ------------------------------------------------------------


def test_a_check_that_stays_pending_times_out_naming_what_is_outstanding(make_rc: Make) -> None:
    p, server = make_rc(
        '[[validate]]\nname = "ci"\nchecks = ["build"]\nstatuses = ["ci/docs"]\ntimeout = "5m"\n'
    )
    server.add_check_run(sha_of(p), "build", status="in_progress", conclusion=None)

    assert p.cli("validate").exit_code == 1
    data = result(p, "ci")["data"]
    assert data["detail"] == "timed out after 5m: build in_progress, ci/docs not reported"
    assert data["conclusion"] == "timed_out"
    assert p.cli("promote").exit_code == 3


def test_a_failing_check_fails_at_once_and_blocks_promotion(
    make_rc: Make, fake_time: FakeTime
) -> None:
    p, server = make_rc(CHECKS)
    sha = sha_of(p)
    server.add_check_run(sha, "build", status="in_progress", conclusion=None)
    lint = server.add_check_run(sha, "lint", conclusion="failure")
    server.add_status(sha, "ci/docs")

    out = p.cli("validate")

    assert out.exit_code == 1
    data = result(p, "ci")["data"]
    assert data["detail"] == f"lint failure: {server.root}/acme/app/runs/{lint}"
    assert (data["conclusion"], data["url"]) == ("failure", f"{server.root}/acme/app/runs/{lint}")
    assert fake_time.sleeps == []  # no waiting for build once lint had failed
    refused = p.cli("promote")
    assert refused.exit_code == 3 and "failed validation (ci)" in refused.stderr


def test_a_failed_status_or_a_neutral_check(make_rc: Make) -> None:
    p, server = make_rc('[[validate]]\nname = "ci"\nchecks = ["build"]\nstatuses = ["docs"]\n')
    sha = sha_of(p)
    server.add_check_run(sha, "build", conclusion="neutral")
    server.add_status(sha, "docs", "error")
    assert p.cli("validate").exit_code == 1
    assert result(p, "ci")["data"]["detail"] == "docs error"
    server.add_status(sha, "docs", "success")
    assert p.cli("validate").exit_code == 0  # a required failure is tried again
    assert p.status()["state"] == "validated"


# -- where GitHub validations may run ----------------------------------------------------------


def test_github_validations_on_the_local_forge_are_refused_with_the_fix(make_project: Any) -> None:
    p = make_project(config=CHECKS)
    assert p.cli("bump").exit_code == 0 and p.cli("rc").exit_code == 0

    out = p.cli("validate")

    assert out.exit_code == 3
    assert 'ci runs on GitHub (checks), but the forge is local: set forge = "github"' in out.stderr
    assert "nothing was changed" in out.stderr


# -- max_age -----------------------------------------------------------------------------------


def test_a_pass_older_than_max_age_no_longer_counts(
    make_rc: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, server = make_rc(E2E + 'max_age = "7d"\n')
    assert p.cli("validate").exit_code == 0
    assert p.status()["state"] == "validated"

    import rcflow.engine.observe

    later = time.time() + 8 * 86400
    monkeypatch.setattr(
        rcflow.engine.observe, "time", type("T", (), {"time": staticmethod(lambda: later)})
    )

    status = p.status()
    assert status["state"] == "candidate"
    assert status["candidates"][0]["validations"][0]["expired"] is True
    assert "e2e: passed, expired (older than max_age)" in p.cli("status").stdout
    refused = p.cli("promote")
    assert refused.exit_code == 3
    assert "e2e passed longer ago than max_age allows: run `rcflow validate`" in refused.stderr
    plan = p.cli("validate", "--dry-run", "--json").json()
    assert [v["name"] for v in plan["plan"]["effects"][0]["validations"]] == ["e2e"]
    assert "e2e passed longer ago than its max_age: it runs again" in plan["plan"]["notes"]
    assert len(server.dispatched()) == 1
    assert json.dumps(plan)  # a plain document


# -- the workflow rcflow init writes -------------------------------------------------------


def test_the_init_workflow_takes_what_rcflow_sends_and_carries_the_correlation_id(
    make_project: Any,
) -> None:
    import yaml

    from rcflow.commands.init import VALIDATE_WORKFLOW, InitOptions, plan_init
    from rcflow.model.config import WORKFLOW_INPUTS, load_config

    p = make_project(config=CHECKS + E2E)
    files = {f.path: f.content for f in plan_init(p.root, InitOptions(forge="github"))}
    workflow = yaml.safe_load(files[VALIDATE_WORKFLOW])
    assert set(workflow[True]["workflow_dispatch"]["inputs"]) == set(WORKFLOW_INPUTS)
    assert "${{ inputs.rcflow_run_id }}" in workflow["run-name"]
    # GitHub validations are not commands for the workflow to run.
    assert [v.kind for v in load_config(p.root).validations] == ["checks", "workflow"]
    assert "No validation configured" in files[VALIDATE_WORKFLOW]


def test_a_polled_validation_takes_no_command_slot_and_is_recorded_while_commands_run(
    make_rc: Make, fake_time: FakeTime, tmp_path: Any
) -> None:
    """One slot (validate_jobs = 1): `unit` runs while `ci` polls, completes `ci`'s check,
    and passes only once `ci`'s result is on the origin's ledger, while `unit` still runs."""
    marker = tmp_path / "unit-started"
    origin = tmp_path / "gh1" / "origin.git"  # make_github_project's first project
    p, server = make_rc(
        "validate_jobs = 1\n"
        '[[validate]]\nname = "ci"\nchecks = ["build"]\ntimeout = "2h"\n'
        '[[validate]]\nname = "unit"\nrun = """'
        f"touch {marker}; for i in $(seq 600); do "
        f"git --git-dir={origin} log refs/rcflow/ledger --format=%B "
        "| grep -q 'rc.1/ci' && exit 0; sleep 0.1; done; exit 1"
        '"""\n'
    )
    build = server.add_check_run(sha_of(p), "build", status="in_progress", conclusion=None)

    def finish_build(_: int) -> None:
        if marker.exists():
            server.set_check_run(build, status="completed", conclusion="success")
        time.sleep(0.05)  # real time for the command to start (fake time runs ahead)

    fake_time.hooks.append(finish_build)

    out = p.cli("validate")

    assert out.exit_code == 0, out.stderr
    assert [e["key"] for e in events(p, "validation_passed")] == [f"{RC}/ci", f"{RC}/unit"]
    assert p.status()["state"] == "validated"
