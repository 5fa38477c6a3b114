"""The ledger's checkpoint in git: written with each append, read by every clone, and the reads
it replaces (the whole ledger, a step's second read) gone; old and damaged ledgers still read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rcflow.commands.step import facts
from rcflow.engine import observe as observe_module
from rcflow.engine.executor import LedgerWriter
from rcflow.engine.observe import observe
from rcflow.model import ledger
from rcflow.model.ledger import CHECKPOINT_FILE, LEDGER_REF, Event, RunIdentity, compact
from rcflow.model.states import classify
from rcflow.model.views import status_view
from rcflow.steps import STEPS
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.project import Project, fresh_clone, git

OLD = RunIdentity(actor="Old <old@example.invalid>", run="old-run", host="h", pid=1, url=None)
ARGS: list[tuple[str, Any]] = [
    ("bump", BumpArgs("auto")),
    ("rc", RcArgs()),
    ("validate", ValidateArgs()),
    ("promote", PromoteArgs()),
    ("rollback", RollbackArgs()),
]


def whole(p: Project) -> tuple[Event, ...]:
    """The ledger read whole, as rcflow read it before checkpoints."""
    out = git(p.origin, "log", "--reverse", "-z", "--format=%H%x00%B", LEDGER_REF)
    fields = out.split("\0")
    found = []
    for sha, message in zip(fields[0:-1:2], fields[1::2], strict=True):
        event = Event.from_message(sha, message.strip())
        if event is not None:
            found.append(event)
    return tuple(found)


def cycle(p: Project) -> None:
    n = len(p.local_tags())
    p.write(f"feature_{n}.py", f"VALUE = {n}\n")
    p.commit(f"feat: feature {n}")
    p.push()
    for name, args in ARGS[:4]:
        assert p.step(name, args).status == "applied", name


def readings(p: Project, events: tuple[Event, ...] | None = None) -> dict[str, Any]:
    ctx = p.ctx()
    snap = observe(ctx.git, ctx.config, ctx.forge)
    if events is not None:
        snap = snap.__class__(**{**snap.__dict__, "ledger": events})
    known = facts(ctx, snap)
    found: dict[str, Any] = {
        "release": classify(snap, ctx.config),
        "status": status_view(snap, known.release, ctx.config),
    }
    for name, args in ARGS:
        found[name] = STEPS[name].plan(known, args).dumps()
    return found


def plumb(cwd: Path, *args: str, input: str) -> str:
    run = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, input=input
    )
    return run.stdout.strip()


def tree(p: Project, rev: str) -> list[str]:
    return git(p.origin, "ls-tree", "--name-only", rev).split()


def test_real_cycles_read_from_the_checkpoint_as_from_the_whole_ledger(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two releases kept whole instead of four: three real cycles close the first.
    monkeypatch.setattr(ledger, "KEEP_RELEASES", 2)
    for _ in range(3):
        cycle(project)
    assert p_bump(project)
    full = whole(project)
    ctx = project.ctx()
    read = observe(ctx.git, ctx.config, ctx.forge).ledger
    assert len(read) < len(full) - 10  # the first release's events and old leases are gone
    assert tree(project, LEDGER_REF) == [CHECKPOINT_FILE]
    assert readings(project) == readings(project, full)
    # Every event commit keeps the message an older rcflow reads.
    assert [e.kind for e in full] == [e["kind"] for e in project.ledger()]
    # A fresh clone reads the same checkpoint.
    clone = fresh_clone(project, tmp_path / "clone")
    cctx = clone.ctx()
    assert observe(cctx.git, cctx.config, cctx.forge).ledger == read
    assert readings(clone) == readings(project)


def p_bump(p: Project) -> bool:
    return p.step("bump", BumpArgs("minor")).status == "applied"


def test_a_step_reads_the_ledger_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    cycle(project)
    reads: list[str] = []
    real = observe_module.load_checkpoint

    def counted(text: str | None, **spelling: str) -> tuple[list[Event], list[str] | None] | None:
        reads.append("read")
        return real(text, **spelling)

    monkeypatch.setattr(observe_module, "load_checkpoint", counted)
    result = project.step("bump", BumpArgs("minor"))
    assert result.status == "applied"
    assert reads == ["read"]
    # The result's snapshot holds the ledger as the run left it: the lease released.
    assert result.snapshot.ledger[-1].kind == "lease_released"
    assert result.release.state.value == "bumped"


def old_append(p: Project, kind: str, key: str) -> None:
    """An append by an rcflow without checkpoints: an empty tree, the same message."""
    ctx = p.ctx()
    snap = observe(ctx.git, ctx.config, ctx.forge, with_commits=False)
    LedgerWriter(ctx.git, ctx.config.remote, snap.ledger_tip, snap.ledger, OLD).append(
        kind, key, {}
    )


def test_an_old_ledger_reads_whole_and_the_next_append_upgrades_it(project: Project) -> None:
    for n in range(3):
        old_append(project, "note", f"n{n}")
    assert tree(project, LEDGER_REF) == []
    ctx = project.ctx()
    assert observe(ctx.git, ctx.config, ctx.forge).ledger == whole(project)
    assert p_bump(project)
    events = whole(project)
    tip = git(project.origin, "rev-parse", LEDGER_REF).strip()
    blob = git(project.origin, "cat-file", "blob", f"{tip}:{CHECKPOINT_FILE}")
    spelling = {"tag_prefix": ctx.config.tag_prefix, "rc_token": ctx.config.rc_token}
    assert ledger.read_checkpoint(blob, **spelling) == list(compact(events[:-1], **spelling))
    checkpointed = (*compact(events[:-1], **spelling), events[-1])
    assert observe(ctx.git, ctx.config, ctx.forge).ledger == checkpointed


def test_appends_by_an_older_rcflow_after_a_checkpoint_are_read_on_top_of_it(
    project: Project,
) -> None:
    assert p_bump(project)
    old_append(project, "note", "by-an-old-rcflow")
    old_append(project, "note", "and-another")
    ctx = project.ctx()
    read = observe(ctx.git, ctx.config, ctx.forge).ledger
    assert [e.key for e in read[-2:]] == ["by-an-old-rcflow", "and-another"]
    assert readings(project) == readings(project, whole(project))
    assert project.step("rc", RcArgs()).status == "applied"
    assert tree(project, LEDGER_REF) == [CHECKPOINT_FILE]


@pytest.mark.parametrize(
    "blob",
    ["not json", json.dumps({"v": 99, "events": []}), json.dumps({"v": 1, "events": [[1]]})],
    ids=["garbage", "a-newer-format", "a-bad-row"],
)
def test_a_damaged_or_foreign_checkpoint_is_passed_over(project: Project, blob: str) -> None:
    cycle(project)
    # Another tool (or a newer rcflow) appends a commit whose checkpoint this one cannot use.
    tip = git(project.origin, "rev-parse", LEDGER_REF).strip()
    sha = plumb(project.origin, "hash-object", "-w", "--stdin", input=blob)
    tree_sha = plumb(project.origin, "mktree", input=f"100644 blob {sha}\t{CHECKPOINT_FILE}\n")
    message = Event("note", "x", "2026-01-01T00:00:00Z", "a", "r", {}).message()
    commit = git(project.origin, "commit-tree", tree_sha, "-p", tip, "-m", message).strip()
    git(project.origin, "update-ref", LEDGER_REF, commit)
    ctx = project.ctx()
    # Read from the newest checkpoint it can use (the one before), never a traceback.
    read = observe(ctx.git, ctx.config, ctx.forge).ledger
    assert read[-1].key == "x" and len(read) < len(whole(project))
    assert readings(project) == readings(project, whole(project))
    status = project.cli("status", "--json")
    assert status.exit_code == 0 and status.json()["state"] == "released"
    assert p_bump(project)  # and the next append writes a good checkpoint on top
    tip = git(project.origin, "rev-parse", LEDGER_REF).strip()
    good = git(project.origin, "cat-file", "blob", f"{tip}:{CHECKPOINT_FILE}")
    assert (
        ledger.read_checkpoint(good, tag_prefix=ctx.config.tag_prefix, rc_token=ctx.config.rc_token)
        is not None
    )


def test_a_format_1_checkpoint_is_read_and_the_next_append_writes_format_2(
    project: Project, tmp_path: Path
) -> None:
    for _ in range(ledger.KEEP_RELEASES + 2):
        cycle(project)  # enough releases that the oldest are closed: stubs in the checkpoint
    # The tip's checkpoint as an rcflow before format 2 wrote it, by the same event.
    tip = git(project.origin, "rev-parse", LEDGER_REF).strip()
    blob = json.loads(git(project.origin, "cat-file", "blob", f"{tip}:{CHECKPOINT_FILE}"))
    assert blob["v"] == 2 and any(isinstance(row, str) for row in blob["events"])
    rows = [
        ["", *row.split(" ", 1), "", "", "", {}] if isinstance(row, str) else row
        for row in blob["events"]
    ]
    old = json.dumps({**blob, "events": rows, "v": 1}, sort_keys=True, separators=(",", ":"))
    sha = plumb(project.origin, "hash-object", "-w", "--stdin", input=old)
    tree_sha = plumb(project.origin, "mktree", input=f"100644 blob {sha}\t{CHECKPOINT_FILE}\n")
    message = git(project.origin, "log", "-1", "--format=%B", tip)
    parents = git(project.origin, "log", "-1", "--format=%P", tip).split()
    commit = git(
        project.origin,
        "commit-tree",
        tree_sha,
        *(a for p in parents for a in ("-p", p)),
        "-m",
        message,
    ).strip()
    git(project.origin, "update-ref", LEDGER_REF, commit)
    # Read through the format 1 checkpoint (not the whole ledger), to the same facts.
    ctx = project.ctx()
    read = observe(ctx.git, ctx.config, ctx.forge).ledger
    assert len(read) < len(whole(project))
    assert readings(project) == readings(project, whole(project))
    assert p_bump(project)
    tip = git(project.origin, "rev-parse", LEDGER_REF).strip()
    upgraded = json.loads(git(project.origin, "cat-file", "blob", f"{tip}:{CHECKPOINT_FILE}"))
    assert upgraded["v"] == 2 and any(isinstance(row, str) for row in upgraded["events"])
    # And a fresh clone reads the upgraded ledger as the whole one.
    clone = fresh_clone(project, tmp_path / "ci-runner")
    assert readings(clone) == readings(clone, whole(clone))
