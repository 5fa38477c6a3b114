"""The ledger and the lease: events in git, compare-and-swap appends, who may act and when."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcflow.commands.run import run_step
from rcflow.engine.executor import LedgerWriter
from rcflow.engine.lease import acquire_lease, lease_is_live, pid_alive
from rcflow.engine.observe import observe
from rcflow.errors import ConflictError, LeaseHeldError
from rcflow.model.ledger import (
    LEDGER_REF,
    Event,
    Lease,
    RunIdentity,
    current_lease,
    now_iso,
)
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from tests.support.project import Hooks, Project, git
from tests.support.scenario import at

NOW = 1_800_000_000.0
ELSEWHERE = RunIdentity(
    actor="CI Bot <ci@example.invalid>", run="gha-4242", host="ci-runner-7", pid=4242, url=None
)


def event(kind: str, key: str, run: str = "run-a", **data: Any) -> Event:
    return Event(kind, key, now_iso(NOW), "Someone <s@example.invalid>", run, data)


def acquired(run: str, *, host: str = "box", pid: int = 100, expires: float = NOW + 600) -> Event:
    return event("lease_acquired", run, run, host=host, pid=pid, expires=expires, command="bump")


def me(run: str = "run-me", host: str = "box") -> RunIdentity:
    return RunIdentity(actor="Me <me@example.invalid>", run=run, host=host, pid=1, url=None)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- events ------------------------------------------------------------------------------------


def test_event_round_trip() -> None:
    original = Event(
        "validation_passed",
        "v1.4.0-rc.1/unit",
        "2026-01-02T03:04:05Z",
        "Jöhn Doe <j@example.invalid>",
        "host-1-abc",
        {"sha": "a" * 40, "duration": 1.5, "nested": {"list": [1, "two", None]}, "ok": True},
    )
    message = original.message()
    assert message.startswith("rcflow: validation_passed v1.4.0-rc.1/unit\n\n")
    parsed = Event.from_message("c0ffee", message)
    assert parsed == dataclasses.replace(original, id="c0ffee")
    # The message is stable: parsing and writing again gives the same bytes.
    assert parsed is not None and parsed.message() == message


@given(
    kind=st.sampled_from(["bumped", "rc_tagged", "lease_acquired", "retracted"]),
    key=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30),
    actor=st.text(max_size=30),
    reason=st.text(max_size=50),
    number=st.integers(min_value=-(2**53), max_value=2**53),
)
def test_event_round_trip_any_text(
    kind: str, key: str, actor: str, reason: str, number: int
) -> None:
    original = Event(kind, key, "2026-01-02T03:04:05Z", actor, "r", {"reason": reason, "n": number})
    assert Event.from_message("x", original.message()) == dataclasses.replace(original, id="x")


@pytest.mark.parametrize(
    "message",
    [
        "Merge branch 'main'",
        "fix: something\n\nA body that is prose.",
        "rcflow: bumped 1.4.0\n\n[1, 2, 3]",
        'rcflow: bumped 1.4.0\n\n{"v": 2, "kind": "bumped"}',
        'rcflow: bumped 1.4.0\n\n{"kind": "bumped", "key": "1.4.0"}',
        'rcflow: bumped 1.4.0\n\n{"v": 1}',
        'rcflow: bumped 1.4.0\n\n{"v": 1, "kind": "bumped", "key": "1.4.0", "time": "t", '
        '"actor": "a", "run": "r", "data": [1]}',
        'rcflow: bumped 1.4.0\n\n{"v": 1, "kind": 7, "key": "1.4.0", "time": "t", '
        '"actor": "a", "run": "r"}',
    ],
)
def test_foreign_commits_are_not_events(message: str) -> None:
    assert Event.from_message("abc", message) is None


def test_times_are_utc_iso_8601() -> None:
    assert now_iso(0) == "1970-01-01T00:00:00Z"


def test_foreign_commits_on_the_ledger_ref_are_ignored(project: Project) -> None:
    assert project.cli("bump", "auto").exit_code == 0
    tip = git(project.origin, "rev-parse", LEDGER_REF)
    empty_tree = git(project.origin, "hash-object", "-t", "tree", "/dev/null")
    for message in ("someone else's note", 'x\n\n{"v": 1}'):
        tip = git(project.origin, "commit-tree", empty_tree, "-p", tip, "-m", message)
    git(project.origin, "update-ref", LEDGER_REF, tip)

    status = project.cli("status", "--json")
    assert status.exit_code == 0, status.stderr
    assert status.json()["state"] == "bumped"
    log = project.cli("log", "--all", "--oldest-first", "--json")
    assert [e["kind"] for e in log.json()["events"]] == [
        "lease_acquired",
        "bumped",
        "lease_released",
    ]
    # Appending builds on the foreign commits; they stay where they are.
    assert project.cli("rc").exit_code == 0
    assert git(project.origin, "merge-base", "--is-ancestor", tip, LEDGER_REF) == ""
    kinds = [e["kind"] for e in project.cli("log", "--json").json()["events"]]
    assert [k for k in kinds if not k.startswith("lease_")] == ["rc_tagged", "bumped"]


# -- the lease as data -------------------------------------------------------------------------


def test_current_lease_is_the_newest_unreleased_acquisition() -> None:
    assert current_lease([]) is None
    assert current_lease([event("bumped", "1.4.0")]) is None

    lease = current_lease([acquired("run-a", host="h", pid=7, expires=NOW + 5)])
    assert lease == Lease("run-a", "Someone <s@example.invalid>", "h", 7, NOW + 5, "bump", "")
    assert "run-a" in lease.describe() and "h" in lease.describe() and "bump" in lease.describe()

    released = [acquired("run-a"), event("lease_released", "run-a", "run-a")]
    assert current_lease(released) is None
    broken = [acquired("run-a"), event("lease_broken", "run-a", "run-b")]
    assert current_lease(broken) is None

    # Releasing someone else's lease releases nothing.
    other = [acquired("run-a"), event("lease_released", "run-z", "run-z")]
    assert current_lease(other) is not None and current_lease(other).run == "run-a"  # type: ignore[union-attr]

    # The newest acquisition wins; a late release by the broken run does not free the new one.
    events = [
        acquired("run-a"),
        event("lease_broken", "run-a", "run-b"),
        acquired("run-b"),
        event("lease_released", "run-a", "run-a"),
    ]
    assert current_lease(events).run == "run-b"  # type: ignore[union-attr]
    assert current_lease([*events, event("lease_released", "run-b", "run-b")]) is None


def test_lease_is_live_rules() -> None:
    lease = current_lease([acquired("run-a", host="box", pid=100, expires=NOW + 60)])
    assert lease is not None
    # Another host, not expired: live, whatever its pid says here.
    for alive in (True, False):
        assert lease_is_live(lease, now=NOW, me=me(host="laptop"), pid_alive=alive)
    # Expired: not live, even on another host with a live pid.
    assert not lease_is_live(lease, now=NOW + 60, me=me(host="laptop"), pid_alive=True)
    assert not lease_is_live(lease, now=NOW + 3600, me=me(host="box"), pid_alive=True)
    # The same run id is the same run resuming (a CI re-run).
    assert not lease_is_live(lease, now=NOW, me=me(run="run-a", host="laptop"), pid_alive=True)
    # Same host: a dead pid proves the holder crashed; a live one holds.
    assert not lease_is_live(lease, now=NOW, me=me(host="box"), pid_alive=False)
    assert lease_is_live(lease, now=NOW, me=me(host="box"), pid_alive=True)
    # Released or broken leases are not leases at all.
    assert current_lease([acquired("run-a"), event("lease_released", "run-a", "run-a")]) is None


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
    assert not pid_alive(-1)
    assert not pid_alive(dead_pid())


def test_run_identity_in_github_actions_is_the_workflow_run() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "99",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_REPOSITORY": "acme/demo",
        "GITHUB_SERVER_URL": "https://github.example",
    }
    ci = RunIdentity.current("Someone <s@example.invalid>", env)
    assert (ci.actor, ci.run, ci.url) == (
        "octocat",
        "gha-99",
        "https://github.example/acme/demo/actions/runs/99",
    )
    local = RunIdentity.current("Someone <s@example.invalid>", {})
    again = RunIdentity.current("Someone <s@example.invalid>", {})
    assert local.actor == "Someone <s@example.invalid>"
    assert local.run != again.run  # every local run is a new run
    assert local.host == socket.gethostname() and local.pid == os.getpid()


# -- appends are compare-and-swap --------------------------------------------------------------


def writer_for(project: Project, who: RunIdentity) -> LedgerWriter:
    ctx = project.ctx()
    snap = observe(ctx.git, ctx.config, ctx.forge, with_commits=False)
    return LedgerWriter(ctx.git, ctx.config.remote, snap.ledger_tip, snap.ledger, who)


class FinishedMeanwhile(Hooks):
    """Between this run's look and its lease, another run takes the lease and gives it back
    having changed nothing: the ledger moved, the release did not."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project = project

    def confirm(self, plan: Any) -> bool:
        other = writer_for(self.project, ELSEWHERE)
        other.append("lease_acquired", ELSEWHERE.run, {"host": "x", "pid": 1, "expires": 0})
        other.append("lease_released", ELSEWHERE.run, {})
        return True


def remote_ledger_count(project: Project) -> int:
    try:
        return int(git(project.origin, "rev-list", "--count", LEDGER_REF))
    except subprocess.CalledProcessError:
        return 0


@pytest.mark.parametrize("history", [False, True], ids=["empty-ledger", "after-events"])
def test_two_writers_from_one_tip_only_one_wins(project: Project, history: bool) -> None:
    if history:
        assert project.cli("bump", "auto").exit_code == 0
    before = remote_ledger_count(project)
    first, second = writer_for(project, ELSEWHERE), writer_for(project, me())
    assert first.tip == second.tip

    stored = first.append("note", "first", {"n": 1})
    with pytest.raises(ConflictError):
        second.append("note", "second", {"n": 2})

    assert remote_ledger_count(project) == before + 1
    assert git(project.origin, "rev-parse", LEDGER_REF) == stored.id
    notes = [e for e in project.ledger() if e["kind"] == "note"]
    assert [e["key"] for e in notes] == ["first"]
    # The loser did not advance: its tip is still the old one, so a retry is a fresh decision.
    assert second.tip != stored.id


def test_appends_advance_the_tip_and_keep_order(project: Project) -> None:
    w = writer_for(project, me())
    ids = [w.append("note", str(i), {"i": i}).id for i in range(3)]
    assert w.tip == ids[-1]
    assert [e["key"] for e in project.ledger()] == ["0", "1", "2"]
    assert [e.key for e in w.events] == ["0", "1", "2"]
    assert w.latest_kind("1") == "note"
    assert w.latest_kind("nope") is None
    # Each event carries the HEAD it was written at.
    assert all(e["data"]["head"] == project.head() for e in project.ledger())


def test_two_runs_starting_together_exactly_one_proceeds(project: Project) -> None:
    """Another run takes the lease between this run's look and its own lease: this one stops."""

    class Racing(Hooks):
        def confirm(self, plan: Any) -> bool:
            other = writer_for(project, ELSEWHERE)
            snap = observe(*_ports(project), with_commits=False)
            acquire_lease(other, snap, command="bump", ttl=600, break_lease=False)
            other.flush()  # the other run's first push
            return True

    before = project.world()
    with pytest.raises(LeaseHeldError, match="CI Bot"):
        run_step(project.ctx(), "bump", BumpArgs("auto"), dry_run=False, hooks=Racing())
    assert project.world()["files"] == before["files"]
    assert project.world()["head"] == before["head"]
    assert [e["kind"] for e in project.ledger()] == ["lease_acquired"]
    assert project.ledger()[0]["run"] == ELSEWHERE.run


def test_a_run_that_finished_meanwhile_does_not_stop_this_one(project: Project) -> None:
    """The ledger moved but only by a finished run that changed nothing: re-plan, proceed."""

    hooks = FinishedMeanwhile(project)
    result = run_step(project.ctx(), "bump", BumpArgs("auto"), dry_run=False, hooks=hooks)
    assert result.status == "applied"
    assert project.kinds() == ["bumped"]


def _ports(project: Project) -> tuple[Any, Any, Any]:
    ctx = project.ctx()
    return ctx.git, ctx.config, ctx.forge


# -- the lease through the command line --------------------------------------------------------


def hold_lease(project: Project, who: RunIdentity, *, expires: float | None = None) -> None:
    w = writer_for(project, who)
    w.append(
        "lease_acquired",
        who.run,
        {
            "host": who.host,
            "pid": who.pid,
            "expires": time.time() + 600 if expires is None else expires,
            "command": "rc",
        },
    )


def test_a_live_lease_elsewhere_stops_a_mutating_command(project: Project) -> None:
    hold_lease(project, ELSEWHERE)
    before, ledger = project.world(), project.ledger()

    result = project.cli("bump", "auto")
    assert result.exit_code == 4, (result.stdout, result.stderr)
    assert "CI Bot" in result.stderr
    assert ELSEWHERE.host in result.stderr and ELSEWHERE.run in result.stderr
    assert "--break-lease" in result.stderr
    assert project.world() == before
    assert project.ledger() == ledger

    as_json = project.cli("bump", "auto", "--json")
    assert as_json.exit_code == 4
    assert as_json.json()["exit_code"] == 4
    assert "CI Bot" in as_json.json()["error"]

    status = project.status()
    assert status["lease"] is not None and "CI Bot" in status["lease"]["holder"]

    # Read-only commands and dry runs are not stopped by the lease.
    assert project.cli("bump", "auto", "--dry-run").exit_code == 0
    assert project.cli("log").exit_code == 0
    assert project.ledger() == ledger


def test_break_lease_proceeds_and_records_it(project: Project) -> None:
    hold_lease(project, ELSEWHERE)
    result = project.cli("bump", "auto", "--break-lease")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "broke the lease" in result.stderr
    kinds = [(e["kind"], e["key"]) for e in project.ledger()]
    assert kinds[0] == ("lease_acquired", ELSEWHERE.run)
    assert kinds[1] == ("lease_broken", ELSEWHERE.run)
    assert [k for k, _ in kinds[2:]] == ["lease_acquired", "bumped", "lease_released"]
    broken = project.ledger()[1]
    assert broken["data"]["by"] == project.ledger()[2]["run"]
    assert project.status()["lease"] is None
    assert project.status()["state"] == "bumped"


def test_an_expired_lease_is_taken_over(project: Project) -> None:
    hold_lease(project, ELSEWHERE, expires=time.time() - 60)
    assert project.status()["lease"] is None  # expired: status shows no holder
    result = project.cli("bump", "auto")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "took over the expired lease" in result.stderr
    kinds = [e["kind"] for e in project.ledger()]
    assert "lease_broken" not in kinds
    assert kinds == ["lease_acquired", "lease_acquired", "bumped", "lease_released"]


def test_a_crashed_run_on_this_host_does_not_hold_the_lease(project: Project) -> None:
    crashed = RunIdentity(
        "Me <me@example.invalid>", "crashed-run", socket.gethostname(), dead_pid(), None
    )
    hold_lease(project, crashed)
    result = project.cli("bump", "auto")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert project.kinds() == ["bumped"]
    assert ("lease_broken", "crashed-run") in [(e["kind"], e["key"]) for e in project.ledger()]


def test_a_ci_rerun_of_the_same_workflow_run_resumes(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same run id (a re-run of the same GitHub Actions run on another runner): not blocked."""
    hold_lease(project, ELSEWHERE)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    result = project.cli("bump", "auto")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert project.kinds() == ["bumped"]


def test_mutating_commands_leave_lease_pairs(make_project: Any) -> None:
    project = make_project(config='[[validate]]\nname = "unit"\nrun = "true"\n')
    for args in (("bump", "auto"), ("rc",), ("validate",), ("promote",), ("rollback",)):
        result = project.cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    events = project.ledger()
    runs: list[str] = []
    open_run: str | None = None
    for e in events:
        if e["kind"] == "lease_acquired":
            assert open_run is None, "a lease was acquired while another was held"
            open_run = e["run"]
            runs.append(open_run)
        elif e["kind"] == "lease_released":
            assert e["run"] == open_run == e["key"]
            open_run = None
        else:
            assert e["run"] == open_run, f"{e['kind']} was written outside its run's lease"
    assert open_run is None
    assert len(runs) == 5 and len(set(runs)) == 5
    assert project.kinds() == [
        "bumped",
        "rc_tagged",
        "validation_passed",
        "validate_completed",
        "promoting",
        "promoted",
        "retracted",
    ]


def test_dry_runs_and_already_done_runs_write_no_event(project: Project) -> None:
    for args in (("bump", "auto"), ("rc",), ("validate",), ("promote",)):
        ledger = project.ledger()
        assert project.cli(*args, "--dry-run").exit_code == 0, args
        assert project.ledger() == ledger, args

        assert project.cli(*args).exit_code == 0, args
        ledger = project.ledger()
        again = project.cli(*args)
        assert again.exit_code == 0 and "Already done" in again.stdout, (args, again.stdout)
        assert project.ledger() == ledger, args
        assert project.cli(*args, "--dry-run").exit_code == 0, args
        assert project.ledger() == ledger, args

    ledger = project.ledger()
    assert project.cli("rollback", "--dry-run").exit_code == 0
    assert project.ledger() == ledger
    assert project.cli("rollback", "v1.4.0").exit_code == 0
    ledger = project.ledger()
    again = project.cli("rollback", "v1.4.0")
    assert again.exit_code == 0 and "Already done" in again.stdout, again.stdout
    assert project.ledger() == ledger


def test_refusals_write_no_event(project: Project) -> None:
    for args in (("rc",), ("validate",), ("promote",), ("rollback",)):
        result = project.cli(*args)
        assert result.exit_code == 3, args
    assert project.ledger() == []
    assert json.loads(project.cli("log", "--json").stdout) == {"events": [], "more": False}


def _another_run_takes_the_lease(project: Project) -> None:
    other = writer_for(project, ELSEWHERE)
    snap = observe(*_ports(project), with_commits=False)
    acquire_lease(other, snap, command="rc", ttl=600, break_lease=False)
    other.flush()


def test_a_lease_lost_with_the_decision_it_carried_records_nothing(project: Project) -> None:
    """`promote`'s lease rides with `promoting`: when another run took the lease first, that
    push is refused whole, and neither the decision nor anything else happens or is shown."""
    at(project, "validated")

    class Racing(Hooks):
        def confirm(self, plan: Any) -> bool:
            _another_run_takes_the_lease(project)
            return True

    def seen() -> tuple[Any, ...]:
        return project.remote_tags(), project.local_tags(), project.forge_tags(), project.head()

    before, ledger = seen(), project.ledger()
    hooks = Racing()
    with pytest.raises(LeaseHeldError, match="CI Bot"):
        run_step(project.ctx(), "promote", PromoteArgs(), dry_run=False, hooks=hooks)
    assert seen() == before
    assert hooks.effects == []  # not even "record promoting: done": it never was
    assert project.ledger()[:-1] == ledger
    assert project.ledger()[-1]["run"] == ELSEWHERE.run


def test_a_lease_lost_in_the_push_of_a_branch_lands_neither(project: Project) -> None:
    """A resumed bump's only work is its branch: the lease, the branch, `bumped` and the release
    are one atomic push. Another run took the lease first: the branch did not move either."""
    project.write("pyproject.toml", '[project]\nname = "demo"\nversion = "1.4.0"\n')
    project.commit("chore(release): bump version to 1.4.0")

    class Racing(Hooks):
        def confirm(self, plan: Any) -> bool:
            assert plan.effects[0].describe() == "push main to origin"
            _another_run_takes_the_lease(project)
            return True

    origin_main = git(project.origin, "rev-parse", "main")
    with pytest.raises(LeaseHeldError, match="CI Bot"):
        run_step(project.ctx(), "bump", BumpArgs("minor"), dry_run=False, hooks=Racing())
    assert git(project.origin, "rev-parse", "main") == origin_main
    assert [(e["kind"], e["run"]) for e in project.ledger()] == [("lease_acquired", ELSEWHERE.run)]


def test_a_run_outrun_by_a_finished_one_reports_each_effect_once(project: Project) -> None:
    """Looked again and taken anew on the new tip: the decision recorded before the lost push
    is reported once, with the push that carried it."""
    at(project, "validated")
    hooks = FinishedMeanwhile(project)
    result = run_step(project.ctx(), "promote", PromoteArgs(), dry_run=False, hooks=hooks)
    assert result.status == "applied"
    shown = [what for what, _ in hooks.effects]
    assert len(shown) == len(set(shown)) == len(result.plan.effects)
    assert project.kinds().count("promoting") == 1
