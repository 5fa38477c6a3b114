"""One push per remote effect: an effect's push carries the ledger events recorded before it.

The origin's own `pre-receive` hook logs every push it receives (one line per push, the refs it
updates), so these tests count and inspect pushes as the remote saw them, not as rcflow says.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from rcflow.adapters.local_forge import FORGE_REF
from rcflow.commands.run import run_step
from rcflow.engine.executor import Executor, LedgerWriter, Ports
from rcflow.engine.observe import observe
from rcflow.errors import ConflictError
from rcflow.model.effects import PushTag, RecordEvent
from rcflow.model.ledger import LEDGER_REF, RunIdentity
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from tests.support.crash import Attempt, count_writes, crash_each_write
from tests.support.project import Hooks, Project, copy_project, fresh_clone, git
from tests.support.scenario import at

HOOK = """#!/bin/sh
# one JSON line per push: the refs it updates, and each ledger commit's subject it brings
refs=""
subjects=""
while read old new ref; do
  refs="$refs \\"$ref\\","
  if [ "$ref" = "refs/rcflow/ledger" ]; then
    range="$old..$new"
    case "$old" in 0000000*) range="$new";; esac
    for s in $(git rev-list --reverse "$range"); do
      subjects="$subjects \\"$(git log -1 --format=%s "$s")\\","
    done
  fi
done
echo "{\\"refs\\": [${refs%,}], \\"ledger\\": [${subjects%,}]}" >> "$PUSH_LOG"
"""

REFUSE_BRANCH = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = "refs/heads/main" ]; then echo "no pushes to main today" >&2; exit 1; fi
done
exit 0
"""

REFUSE_TAG = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = "refs/tags/$REFUSED_TAG" ]; then echo "no tags today" >&2; exit 1; fi
done
exit 0
"""


def hook(project: Project, body: str) -> None:
    path = project.origin / "hooks" / "pre-receive"
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def pushes(log: Path) -> list[dict[str, list[str]]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def logged(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "pushes.jsonl"
    monkeypatch.setenv("PUSH_LOG", str(log))
    hook(project, HOOK)
    return log


def steps_pushes(project: Project, log: Path, *args: str) -> list[dict[str, list[str]]]:
    before = len(pushes(log))
    result = project.cli(*args)
    assert result.exit_code == 0, result.stderr
    return pushes(log)[before:]


def test_each_step_pushes_once_per_remote_effect_plus_its_lease(
    project: Project, logged: Path
) -> None:
    """Every push of each step, as the remote saw it: one more (a lease or an event alone) fails.

    The lease rides with the first push that reaches beyond the ledger, or goes alone right
    before an effect outside the clone; the release rides with the step's last push to the
    release's remote when only ledger events follow it.
    """
    bump = steps_pushes(project, logged, "bump", "auto", "--yes")
    run = last_run(project)
    # the lease, before the files and the commit; the branch with `bumped` and the release
    assert [(p["refs"], p["ledger"]) for p in bump] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}"]),
        (
            sorted(["refs/heads/main", LEDGER_REF]),
            ["rcflow: bumped 1.4.0", f"rcflow: lease_released {run}"],
        ),
    ]

    rc = steps_pushes(project, logged, "rc", "--yes")
    run = last_run(project)
    # the lease, before the local tag; then the tag, the local forge's release (created and
    # published: one commit of its ref), `rc_tagged` and the lease's release, in one push
    assert [(sorted(p["refs"]), p["ledger"]) for p in rc] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}"]),
        (
            sorted([FORGE_REF, LEDGER_REF, "refs/tags/v1.4.0-rc.1"]),
            ["rcflow: rc_tagged v1.4.0-rc.1", f"rcflow: lease_released {run}"],
        ),
    ]
    assert forge_commits(project) == [
        "rcflow forge: create draft prerelease v1.4.0-rc.1; publish v1.4.0-rc.1"
    ]

    validate = steps_pushes(project, logged, "validate", "--yes")
    run = last_run(project)
    assert [(p["refs"], p["ledger"]) for p in validate] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}"]),
        ([LEDGER_REF], ["rcflow: validate_completed v1.4.0-rc.1", f"rcflow: lease_released {run}"]),
    ]

    promote = steps_pushes(project, logged, "promote", "--yes")
    run = last_run(project)
    # The lease with the decision, on the remote before the tag exists even in this clone (a
    # resume must find it: a local final tag without it reads as no release in flight); then
    # the tag, the forge's release (created, the RC's assets carried, published as latest),
    # `promoted` and the lease's release, in one push.
    assert [(sorted(p["refs"]), p["ledger"]) for p in promote] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}", "rcflow: promoting v1.4.0"]),
        (
            sorted([FORGE_REF, LEDGER_REF, "refs/tags/v1.4.0"]),
            ["rcflow: promoted v1.4.0", f"rcflow: lease_released {run}"],
        ),
    ]


def forge_commits(project: Project) -> list[str]:
    """The local forge's commits on the origin, oldest first."""
    log = git(project.origin, "log", "--reverse", "--format=%s", FORGE_REF)
    return log.splitlines()


def test_a_resumed_step_whose_work_is_one_push_makes_one(project: Project, logged: Path) -> None:
    """The bump commit made but not pushed (a crash): the resume's lease, branch, event and
    release are one atomic push."""
    project.write("pyproject.toml", '[project]\nname = "demo"\nversion = "1.4.0"\n')
    project.commit("chore(release): bump version to 1.4.0")
    resumed = steps_pushes(project, logged, "bump", "minor", "--yes")
    run = last_run(project)
    assert [(p["refs"], p["ledger"]) for p in resumed] == [
        (
            sorted(["refs/heads/main", LEDGER_REF]),
            [
                f"rcflow: lease_acquired {run}",
                "rcflow: bumped 1.4.0",
                f"rcflow: lease_released {run}",
            ],
        ),
    ]


def test_a_refused_closing_push_lands_no_event_and_gives_the_lease_back(
    project: Project, logged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The branch refused: `bumped` and the release, appended for its push, are taken back; the
    failure is recorded and the lease released in the push that follows, as after any failure."""
    hook(project, REFUSE_BRANCH)
    refused = project.cli("bump", "auto", "--yes")
    assert refused.exit_code == 1, refused.stderr
    assert "no pushes to main today" in refused.stderr
    kinds = [e["kind"] for e in project.ledger()]
    assert kinds == ["lease_acquired", "step_failed", "lease_released"]
    assert git(project.origin, "log", "-1", "--format=%s", "main") == "feat: add a feature"

    hook(project, HOOK)
    resumed = steps_pushes(project, logged, "bump", "auto", "--yes")
    assert len(resumed) == 1  # lease, branch, `bumped`, release: one atomic push
    assert [e["kind"] for e in project.ledger()][3:] == [
        "lease_acquired",
        "bumped",
        "lease_released",
    ]
    assert project.cli("bump", "auto", "--yes").exit_code == 0
    assert len(pushes(logged)) == 1  # and again: nothing to do, nothing pushed


def test_an_interrupt_after_the_closing_push_records_nothing_more(project: Project) -> None:
    """A signal that arrives once the last push landed (it waits for the push, `proc.deferred`):
    the step's work and its release are on the remote; no failure is recorded after them."""
    ctx = project.ctx()
    real_push, real_update = ctx.git.push, ctx.git.update_ref
    calls: list[list[str]] = []

    def push(remote: str, refspecs: Any) -> None:
        calls.append(list(refspecs))
        real_push(remote, refspecs)

    def update_ref(ref: str, new: str) -> None:
        # the end of the push's `proc.deferred` block, where a signal that arrived during it
        # is raised: the push landed and the writer knows it
        real_update(ref, new)
        if len(calls) == 2:
            raise KeyboardInterrupt

    ctx.git.push = push  # type: ignore[method-assign]
    ctx.git.update_ref = update_ref  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        run_step(ctx, "bump", BumpArgs("auto"), dry_run=False, hooks=Hooks())
    assert len(calls) == 2, calls  # nothing pushed after the interrupt
    assert [e["kind"] for e in project.ledger()] == ["lease_acquired", "bumped", "lease_released"]
    assert project.status()["state"] == "bumped"
    assert project.cli("bump", "auto", "--yes").exit_code == 0
    assert project.kinds() == ["bumped"]


def test_a_bump_rollback_pushes_the_revert_with_the_release(project: Project, logged: Path) -> None:
    """The decision with the lease (before the local revert), then the branch with the release."""
    assert project.cli("bump", "auto", "--yes").exit_code == 0
    rollback = steps_pushes(project, logged, "rollback", "--yes")
    run = last_run(project)
    assert [(p["refs"], p["ledger"]) for p in rollback] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}", "rcflow: bump_reverted 1.4.0"]),
        (sorted(["refs/heads/main", LEDGER_REF]), [f"rcflow: lease_released {run}"]),
    ]


def last_run(project: Project) -> str:
    return str([e for e in project.ledger() if e["kind"] == "lease_acquired"][-1]["key"])


def test_an_event_before_a_push_rides_in_it(project: Project, logged: Path) -> None:
    """An event recorded right before a push effect travels in that push, atomically."""
    ctx = project.ctx()
    ours = writer(project, "ours")
    project.git("tag", "-a", "-m", "x", "v9.9.9")
    effects = (RecordEvent("note", "v9.9.9", {}), PushTag("origin", "v9.9.9"))
    Executor(Ports(ctx.git, ctx.forge), ours, lambda e, o: None).apply(effects)
    assert ours.pending == []
    (push,) = pushes(logged)
    assert sorted(push["refs"]) == [LEDGER_REF, "refs/tags/v9.9.9"]
    assert push["ledger"] == ["rcflow: note v9.9.9"]


def bump_run(project: Project) -> str:
    (acquired,) = (e for e in project.ledger() if e["kind"] == "lease_acquired")
    return str(acquired["key"])


def promote_ready(project: Project) -> None:
    for step in (("rc", "--yes"), ("validate", "--yes")):
        assert project.cli(*step).exit_code == 0


def test_a_refused_tag_push_lands_neither_the_tag_nor_its_event(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert project.cli("bump", "auto", "--yes").exit_code == 0
    promote_ready(project)
    hook(project, REFUSE_TAG)
    origin_before = git(project.origin, "rev-parse", LEDGER_REF)

    monkeypatch.setenv("REFUSED_TAG", "v1.4.0")
    refused = project.cli("promote", "--yes")
    assert refused.exit_code == 1, refused.stderr
    assert "refs/tags/v1.4.0" in refused.stderr
    assert "no tags today" in refused.stderr
    assert "v1.4.0" not in project.remote_tags()
    # The decision and the failure are recorded after all, with the lease's release: exactly
    # what a separate push of each event before the tag would have left.
    after = [e["kind"] for e in project.ledger()]
    assert after[-3:] == ["promoting", "step_failed", "lease_released"]
    assert git(project.origin, "rev-parse", LEDGER_REF) != origin_before

    (project.origin / "hooks" / "pre-receive").unlink()
    resumed = project.cli("promote", "--yes")
    assert resumed.exit_code == 0, resumed.stderr
    assert "v1.4.0" in project.remote_tags()
    assert [e["kind"] for e in project.ledger()].count("promoted") == 1
    assert project.cli("promote", "--yes").exit_code == 0  # and again: nothing to do


def writer(project: Project, run: str) -> LedgerWriter:
    ctx = project.ctx()
    snap = observe(ctx.git, ctx.config, ctx.forge, with_commits=False)
    who = RunIdentity(actor="A <a@example.invalid>", run=run, host="box", pid=1, url=None)
    return LedgerWriter(ctx.git, ctx.config.remote, snap.ledger_tip, snap.ledger, who)


def test_deferred_events_and_the_effect_lose_the_compare_and_swap_together(
    project: Project,
) -> None:
    """Another run appended meanwhile: the carried push is rejected whole, tag included."""
    ours, theirs = writer(project, "ours"), writer(project, "theirs")
    ours.append("note", "decided", {}, defer=True)
    theirs.append("note", "first", {})
    project.git("tag", "-a", "-m", "x", "v9.9.9")
    with pytest.raises(ConflictError):
        ours.flush(["refs/tags/v9.9.9:refs/tags/v9.9.9"])
    assert "v9.9.9" not in project.remote_tags()
    assert [e["key"] for e in project.ledger() if e["kind"] == "note"] == ["first"]
    assert [e.key for e in ours.pending] == ["decided"]  # still ours to decide about


def test_a_failed_immediate_append_is_forgotten_but_deferred_ones_are_kept(
    project: Project,
) -> None:
    ours, theirs = writer(project, "ours"), writer(project, "theirs")
    ours.append("note", "done-before", {}, defer=True)
    theirs.append("note", "first", {})
    with pytest.raises(ConflictError):
        ours.append("note", "must-land-now", {})
    assert [e.key for e in ours.pending] == ["done-before"]
    assert [e.key for e in ours.events if e.kind == "note"] == ["done-before"]


def test_flush_with_nothing_pending_pushes_only_the_effect(project: Project) -> None:
    ours = writer(project, "ours")
    before = git(project.origin, "rev-parse", LEDGER_REF) if project.ledger() else None
    project.git("tag", "-a", "-m", "x", "v9.9.9")
    ours.flush(["refs/tags/v9.9.9:refs/tags/v9.9.9"])
    assert "v9.9.9" in project.remote_tags()
    after = git(project.origin, "rev-parse", LEDGER_REF) if project.ledger() else None
    assert after == before


def _validated(p: Project, log: Path) -> list[dict[str, list[str]]]:
    assert p.cli("bump", "auto", "--yes").exit_code == 0
    assert p.cli("rc", "--yes").exit_code == 0
    return steps_pushes(p, log, "validate", "--yes")


def test_validate_pushes_its_last_result_with_the_lease_release(
    make_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One validation: the lease, then its result, validate_completed and the release at once."""
    p = make_project(config='[[validate]]\nname = "unit"\nrun = "true"\n')
    log = tmp_path / "pushes.jsonl"
    monkeypatch.setenv("PUSH_LOG", str(log))
    hook(p, HOOK)
    validate = _validated(p, log)
    assert [push["refs"] for push in validate] == [[LEDGER_REF], [LEDGER_REF]]
    run = [e for e in p.ledger() if e["kind"] == "lease_acquired"][-1]["key"]
    assert validate[1]["ledger"] == [
        "rcflow: validation_passed v1.4.0-rc.1/unit",
        "rcflow: validate_completed v1.4.0-rc.1",
        f"rcflow: lease_released {run}",
    ]


def test_a_result_is_on_the_remote_while_other_validations_still_run(
    make_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`slow` finishes only once `fast`'s result is on the origin: pushed as soon as known."""
    origin = tmp_path / "p1" / "origin.git"
    wait = (
        f"until git --git-dir={origin} log --format=%s refs/rcflow/ledger"
        " | grep -q 'validation_passed .*/fast'; do sleep 0.05; done"
    )
    p = make_project(
        config='[[validate]]\nname = "fast"\nrun = "true"\n\n'
        f'[[validate]]\nname = "slow"\nrun = "{wait}"\ntimeout = "1m"\n'
    )
    assert p.origin == origin
    log = tmp_path / "pushes.jsonl"
    monkeypatch.setenv("PUSH_LOG", str(log))
    hook(p, HOOK)
    validate = _validated(p, log)
    assert [push["ledger"][:1] for push in validate[1:]] == [
        ["rcflow: validation_passed v1.4.0-rc.1/fast"],
        ["rcflow: validation_passed v1.4.0-rc.1/slow"],
    ]
    assert validate[2]["ledger"][1:-1] == ["rcflow: validate_completed v1.4.0-rc.1"]
    assert len(validate) == 3


# -- the local forge's writes ride in the step's push ------------------------------------------

ASSETS = (
    "[assets]\n"
    'files = ["dist/*"]\n'
    'build = "mkdir -p dist && echo demo $RCFLOW_VERSION > dist/demo.txt"\n'
)


def test_promote_with_next_version_pushes_the_release_then_the_branch(
    make_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tag, the forge's release and `promoted` together; the development commit, its event
    and the lease's release together (was six pushes)."""
    p = make_project(config='next_version = "dev"\n')
    log = tmp_path / "pushes.jsonl"
    monkeypatch.setenv("PUSH_LOG", str(log))
    hook(p, HOOK)
    for step in (("bump", "auto"), ("rc",), ("validate",)):
        assert p.cli(*step, "--yes").exit_code == 0
    promote = steps_pushes(p, log, "promote", "--yes")
    run = last_run(p)
    assert [(sorted(x["refs"]), x["ledger"]) for x in promote] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}", "rcflow: promoting v1.4.0"]),
        (sorted([FORGE_REF, LEDGER_REF, "refs/tags/v1.4.0"]), ["rcflow: promoted v1.4.0"]),
        (
            sorted(["refs/heads/main", LEDGER_REF]),
            ["rcflow: next_version v1.4.0", f"rcflow: lease_released {run}"],
        ),
    ]


def test_rollbacks_push_the_forge_with_their_decision(
    make_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An RC's withdrawal: the decision with the release's deletion, then the tag's (the local
    tag follows the remote's, and the lease's release follows it). A retraction: one push."""
    p = make_project(config=ASSETS)
    log = tmp_path / "pushes.jsonl"
    monkeypatch.setenv("PUSH_LOG", str(log))
    hook(p, HOOK)
    for step in (("bump", "auto"), ("rc",)):
        assert p.cli(*step, "--yes").exit_code == 0
    withdraw = steps_pushes(p, log, "rollback", "--yes")
    run = last_run(p)
    assert [(sorted(x["refs"]), x["ledger"]) for x in withdraw] == [
        (
            sorted([FORGE_REF, LEDGER_REF]),
            [f"rcflow: lease_acquired {run}", "rcflow: rc_withdrawn v1.4.0-rc.1"],
        ),
        (["refs/tags/v1.4.0-rc.1"], []),
        ([LEDGER_REF], [f"rcflow: lease_released {run}"]),
    ]
    assert "v1.4.0-rc.1" not in p.forge_tags()
    for step in (("rc",), ("validate",), ("promote",)):
        assert p.cli(*step, "--yes").exit_code == 0
    retract = steps_pushes(p, log, "rollback", "--yes")
    run = last_run(p)
    assert [(sorted(x["refs"]), x["ledger"]) for x in retract] == [
        (
            sorted([FORGE_REF, LEDGER_REF]),
            [
                f"rcflow: lease_acquired {run}",
                "rcflow: retracted v1.4.0",
                f"rcflow: lease_released {run}",
            ],
        ),
    ]
    assert p.forge_release("v1.4.0")["retracted"] is True  # type: ignore[index]


def forge_view(p: Project) -> dict[str, Any]:
    """The local forge on origin: each release's flags and assets, and the latest."""
    releases = {}
    for tag in p.forge_tags():
        record = p.forge_release(tag) or {}
        releases[tag] = (
            record.get("prerelease"),
            record.get("draft"),
            record.get("retracted"),
            sorted((a["name"], a["sha256"]) for a in record.get("assets", [])),
            all(p.forge_asset(tag, a["name"]) is not None for a in record.get("assets", [])),
        )
    return {"releases": releases, "latest": p.forge_latest()}


def test_a_refused_tag_push_lands_no_release_and_a_resume_makes_it_once(
    make_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tag refused: the forge's release and `rc_tagged`, in the same atomic push, are not on
    the remote either; a fresh clone and the crashed clone both finish it, and agree."""
    p = make_project(config=ASSETS)
    assert p.cli("bump", "auto", "--yes").exit_code == 0
    forge_before = git(p.origin, "rev-parse", FORGE_REF) if p.forge_tags() else None
    hook(p, REFUSE_TAG)
    monkeypatch.setenv("REFUSED_TAG", "v1.4.0-rc.1")
    refused = p.cli("rc", "--yes")
    assert refused.exit_code == 1, refused.stderr
    assert "no tags today" in refused.stderr
    assert "v1.4.0-rc.1" not in p.remote_tags()
    assert "v1.4.0-rc.1" not in p.forge_tags()
    assert (git(p.origin, "rev-parse", FORGE_REF) if p.forge_tags() else None) == forge_before
    assert p.kinds() == ["bumped"]
    kinds = [e["kind"] for e in p.ledger()]
    assert kinds[-3:] == ["lease_acquired", "step_failed", "lease_released"]
    # the local copy of the forge's ref did not move either: offline, nothing was released
    assert p.git("for-each-ref", FORGE_REF) == ""

    (p.origin / "hooks" / "pre-receive").unlink()
    resumed = p.cli("rc", "--yes")
    assert resumed.exit_code == 0, resumed.stderr
    assert p.kinds() == ["bumped", "rc_tagged"]
    release = forge_view(p)["releases"]["v1.4.0-rc.1"]
    assert release[:3] == (True, False, False)
    assert release[3] and release[4]  # its assets, their bytes stored
    assert git(p.origin, "log", "--format=%s", FORGE_REF).count("create") == 1
    other = fresh_clone(p, tmp_path / "elsewhere")
    assert other.status()["state"] == p.status()["state"] == "candidate"
    again = other.cli("rc", "--yes")
    assert again.exit_code == 0
    assert "Already done" in again.stdout, again.stdout


def test_a_forge_write_by_another_run_refuses_the_whole_push(project: Project) -> None:
    """Someone writes the forge's ref between rc's look and its push: the push that carries the
    tag, the release and `rc_tagged` is refused whole (the forge's compare-and-swap), nothing of
    it is on the remote, and a re-run makes it on top of the other write."""
    p = project
    assert p.cli("bump", "auto", "--yes").exit_code == 0
    assert p.cli("rc", "--yes").exit_code == 0  # a forge ref to race on
    assert p.cli("rollback", "--yes").exit_code == 0
    ctx = p.ctx()
    real_push = ctx.git.push

    def push(remote: str, refspecs: Any) -> None:
        if any(spec.endswith(f":{FORGE_REF}") for spec in refspecs):
            p.tamper_forge("notes/by-hand.txt", b"another writer\n")
        real_push(remote, refspecs)

    ctx.git.push = push  # type: ignore[method-assign]
    with pytest.raises(ConflictError):
        run_step(ctx, "rc", RcArgs(), dry_run=False, hooks=Hooks())
    assert "v1.4.0-rc.2" not in p.remote_tags()
    assert "v1.4.0-rc.2" not in p.forge_tags()
    assert "notes/by-hand.txt" in p.forge_files()
    kinds = [e["kind"] for e in p.ledger()]
    assert kinds[-3:] == ["lease_acquired", "step_failed", "lease_released"]

    resumed = p.cli("rc", "--yes")
    assert resumed.exit_code == 0, resumed.stderr
    assert "v1.4.0-rc.2" in p.remote_tags()
    assert p.forge_release("v1.4.0-rc.2") is not None
    assert "notes/by-hand.txt" in p.forge_files()
    assert p.kinds()[-1] == "rc_tagged"


def remote_view(p: Project) -> dict[str, Any]:
    """What every clone shares after a step: origin's tags, the forge, the release's events
    (a crashed attempt's `step_failed` is the audit trail, not the outcome) and the state."""
    status = p.status()
    return {
        "tags": p.remote_tags(),
        "forge": forge_view(p),
        "kinds": p.kinds(),
        "lease": [e["kind"] for e in p.ledger() if e["kind"].startswith("lease_")][-1],
        "state": {k: status.get(k) for k in ("state", "version", "tag", "problems")},
    }


@pytest.mark.parametrize(
    ("step", "position", "args"),
    [("rc", "bumped", RcArgs()), ("promote", "validated", PromoteArgs())],
)
@pytest.mark.parametrize("where", ["same", "fresh"])
def test_a_crash_at_each_write_converges_from_this_clone_and_a_fresh_one(
    step: str, position: str, args: Any, where: str, make_project: Any, tmp_path: Path
) -> None:
    """Every write of the step fails in turn — the forge's held writes, the push carrying them,
    the local copies of the ledger's and the forge's refs after it — and the step, run again
    here or from a fresh clone, ends where an uninterrupted twin ends."""
    template = at(make_project(config=ASSETS), position)
    twin = copy_project(template, tmp_path / "twin")
    writes = count_writes(twin, step, args)
    assert writes.count("push") == 2, writes  # the lease; then everything else, once
    expected = remote_view(twin)

    def resume(crash: Attempt) -> None:
        p = crash.project if where == "same" else crash.fresh_clone()
        again = p.cli(step, "--yes")
        assert again.exit_code == 0, (crash.where, again.stdout, again.stderr)
        view = remote_view(p)
        assert view == expected, crash.where
        # and the forge's local copy never claims what the remote does not hold
        here = crash.project.git("for-each-ref", "--format=%(objectname)", FORGE_REF)
        assert here == "" or here in git(p.origin, "rev-list", FORGE_REF), crash.where
        assert "Already done" in p.cli(step, "--yes").stdout, crash.where

    crashed = crash_each_write(
        lambda name: copy_project(template, tmp_path / name),
        step,
        args,
        resume,
        writes=len(writes),
    )
    assert crashed[-3:] == ["push", "update_ref", "update_ref"], crashed
