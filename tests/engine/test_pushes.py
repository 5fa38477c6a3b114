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

from rcflow.commands.run import run_step
from rcflow.engine.executor import Executor, LedgerWriter, Ports
from rcflow.engine.observe import observe
from rcflow.errors import ConflictError
from rcflow.model.effects import PushTag, RecordEvent
from rcflow.model.ledger import LEDGER_REF, RunIdentity
from rcflow.steps.bump import BumpArgs
from tests.support.project import Hooks, Project, git

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
    # the lease, before the local tag; the tag; the forge's release (two pushes of the local
    # forge's own ref); `rc_tagged`, which follows the release, with the lease's release
    assert [(p["refs"], p["ledger"]) for p in rc] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}"]),
        (["refs/tags/v1.4.0-rc.1"], []),
        (["refs/rcflow/forge"], []),
        (["refs/rcflow/forge"], []),
        ([LEDGER_REF], ["rcflow: rc_tagged v1.4.0-rc.1", f"rcflow: lease_released {run}"]),
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
    # resume must find it: a local final tag without it reads as no release in flight); the
    # tag; the forge; `promoted` with the lease's release.
    assert [(p["refs"], p["ledger"]) for p in promote] == [
        ([LEDGER_REF], [f"rcflow: lease_acquired {run}", "rcflow: promoting v1.4.0"]),
        (["refs/tags/v1.4.0"], []),
        (["refs/rcflow/forge"], []),
        (["refs/rcflow/forge"], []),
        ([LEDGER_REF], ["rcflow: promoted v1.4.0", f"rcflow: lease_released {run}"]),
    ]


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
