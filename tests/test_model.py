"""Random command sequences against one real project each, checked against a small model.

The model knows the lifecycle of DESIGN §2 and nothing of rcflow's code: versions are tuples,
RCs are (number, sha) pairs, validation passes on a commit unless its tree has `BROKEN` (some
commits add it, others remove it), and its results are sets of shas. After every step the real
repository must agree with it (`status --json`), and the world must keep the promises that hold
whatever the sequence: tags never move or come back, final tags sit on validated RC commits, RC
numbers are never reused, local and remote tags agree, and a refusal changes nothing. Exit codes
are predicted too: 0 applied or already done, 1 a required validation failed, 3 refused.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.support.project import Project

V = tuple[int, int, int]
Outcome = Literal["applied", "done", "failed", "refused"]
EXIT = {"applied": 0, "done": 0, "failed": 1, "refused": 3}
IN_FLIGHT = ("candidate", "validated", "rejected")

CONFIG = '[[validate]]\nname = "unit"\nrun = "test ! -e BROKEN"\n'


def vs(v: V) -> str:
    return ".".join(map(str, v))


def bumped(v: V, part: str) -> V:
    major, minor, patch = v
    if part == "major":
        return (major + 1, 0, 0)
    if part == "minor":
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


@dataclass
class Rc:
    number: int
    sha: str


@dataclass
class Bump:
    commit: str
    before: V | None
    adopted: bool


@dataclass
class Model:
    """The release as the lifecycle says it should be, driven by the same commands."""

    files: V
    history: list[tuple[str, str, bool]]  # (sha, subject, BROKEN in tree?), oldest first
    finals: dict[V, str] = field(default_factory=dict)  # final version -> tagged commit
    promoted: set[V] = field(default_factory=set)
    retracted: set[V] = field(default_factory=set)
    rcs: dict[V, list[Rc]] = field(default_factory=dict)  # live RCs per version
    used: dict[V, set[int]] = field(default_factory=dict)
    withdrawn: set[str] = field(default_factory=set)
    validated: set[str] = field(default_factory=set)  # shas a validate run passed on
    failed: set[str] = field(default_factory=set)  # shas a validate run failed on
    bumps: dict[V, Bump | None] = field(default_factory=dict)  # rcflow's own live bump
    # The newest transition was a rollback: an unnamed rollback is done, an older one needs a name.
    rolled_back: bool = False

    # -- derived, as DESIGN §2 derives it ------------------------------------------------------

    @property
    def head(self) -> str:
        return self.history[-1][0]

    @property
    def highest(self) -> V:
        return max(self.finals)

    @property
    def last_final(self) -> V:
        return max(v for v in self.finals if v not in self.retracted)

    @property
    def target(self) -> V | None:
        if self.files in self.finals or self.files < self.highest:
            return None
        return self.files

    def live(self) -> list[Rc]:
        return self.rcs.get(self.target, []) if self.target else []

    def state(self) -> str:
        if self.target is not None:
            live = self.live()
            if not live:
                return "bumped"
            sha = live[-1].sha
            if sha in self.failed:
                return "rejected"
            return "validated" if sha in self.validated else "candidate"
        if self.highest in self.retracted:
            return "retracted"
        return "released" if self.last_final in self.promoted else "idle"

    @property
    def broken(self) -> bool:
        return self.history[-1][2]

    def commit(self, sha: str, subject: str, broken: bool | None = None) -> None:
        self.history.append((sha, subject, self.broken if broken is None else broken))

    def feats_since(self, sha: str) -> bool:
        shas = [h[0] for h in self.history]
        return any(h[1].startswith("feat") for h in self.history[shas.index(sha) + 1 :])

    def is_broken(self, sha: str) -> bool:
        return next(h[2] for h in self.history if h[0] == sha)

    def rc_tag(self, v: V, n: int) -> str:
        return f"v{vs(v)}-rc.{n}"

    # -- commands --------------------------------------------------------------------------

    def bump(self, part: str, head_after: str) -> Outcome:
        state, target = self.state(), self.target
        auto = "minor" if self.feats_since(self.finals[self.highest]) else None
        if part == "auto" and auto is None:
            return "done" if target is None else "refused"
        new = bumped(self.highest, auto if part == "auto" else part)
        if state in IN_FLIGHT and new != target:
            return "refused"
        if self.files != new:
            self.commit(head_after, f"chore(release): bump version to {vs(new)}")
            self.bumps[new] = Bump(head_after, self.files, adopted=False)
            self.files = new
            return "applied"
        if self.bumps.get(new) is not None:
            return "done"
        ours = self.history[-1][1] == f"chore(release): bump version to {vs(new)}"
        self.bumps[new] = Bump(self.head, None, adopted=not ours)
        return "applied"

    def rc(self) -> Outcome:
        state, target = self.state(), self.target
        if target is None or state not in ("bumped", *IN_FLIGHT):
            return "done" if state == "released" else "refused"
        live = self.rcs.setdefault(target, [])
        if live and live[-1].sha == self.head:
            return "done"
        used = self.used.setdefault(target, set())
        number = max(used, default=0) + 1
        used.add(number)
        live.append(Rc(number, self.head))
        return "applied"

    def validate(self) -> Outcome:
        state, live = self.state(), self.live()
        if not live or state not in IN_FLIGHT:
            return "done" if state == "released" else "refused"
        sha = live[-1].sha
        if sha in self.validated:
            return "done"
        if self.is_broken(sha):
            self.failed.add(sha)  # a failed required validation is run again by the next validate
            return "failed"
        self.validated.add(sha)
        return "applied"

    def promote(self) -> Outcome:
        state, target = self.state(), self.target
        if target is None:
            started = self.files in self.promoted and self.files not in self.retracted
            return "done" if started else "refused"
        if state != "validated":
            return "refused"
        self.finals[target] = self.live()[-1].sha
        self.promoted.add(target)
        return "applied"

    def newest_name(self) -> str | None:
        """What `rcflow rollback NAME` names to undo the newest transition the state shows."""
        state, target = self.state(), self.target
        if state in IN_FLIGHT and target is not None:
            return self.rc_tag(target, self.rcs[target][-1].number)
        if state == "bumped" and target is not None:
            return vs(target)
        if state == "released":
            return f"v{vs(self.last_final)}"
        return None

    def rollback(self, head_after: str, named: bool = False) -> Outcome:
        state, target = self.state(), self.target
        if self.rolled_back and not named:
            return "done"
        if state in IN_FLIGHT and target is not None:
            rc = self.rcs[target].pop()
            self.withdrawn.add(self.rc_tag(target, rc.number))
            return "applied"
        if state == "bumped" and target is not None:
            bump = self.bumps.get(target)
            if bump is None or bump.adopted or bump.before is None:
                return "refused"
            self.commit(head_after, f"chore(release): revert bump to {vs(target)}")
            self.bumps[target] = None
            self.files = bump.before
            return "applied"
        if state == "released":
            self.retracted.add(self.last_final)
            return "applied"
        return "refused"


class ReleaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="rcflow-model-"))
        self.project = Project(self.base).create(config=CONFIG)
        log = self.project.git("log", "--reverse", "--format=%H %s").splitlines()
        history = [(line[:40], line[41:], False) for line in log]
        self.model = Model(files=(1, 3, 0), history=history, finals={(1, 3, 0): history[0][0]})
        self.seen: dict[str, str] = dict(self.project.remote_tags())  # every tag ever, first sha
        self.commits = 0
        self.trace: list[str] = []

    def teardown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    # -- running a command and checking what it did ----------------------------------------

    def run(self, args: tuple[str, ...], predict: Any) -> None:
        before, ledger = self.project.world(), self.project.ledger()
        result = self.project.cli(*args)
        head_after = self.project.head()
        expected: Outcome = predict(head_after)
        if expected in ("applied", "failed"):
            self.model.rolled_back = args[0] == "rollback"
        self.trace.append(f"{' '.join(args)} -> {result.exit_code} ({expected})")
        where = f"{self.trace}\n{result.stdout}\n{result.stderr}"
        assert result.exit_code in (0, 1, 3), where
        if result.exit_code == 3:
            assert self.project.world() == before, f"a refusal changed the world: {where}"
            assert self.project.ledger() == ledger, f"a refusal wrote the ledger: {where}"
        assert EXIT[expected] == result.exit_code, where
        if expected == "done":
            assert "Already done" in result.stdout, where
            assert self.project.world() == before, where
            assert self.project.ledger() == ledger, where
        if expected in ("applied", "failed"):
            assert self.project.ledger() != ledger, where
        if result.exit_code in (0, 1):
            assert self.project.local_tags() == self.project.remote_tags(), where
        state = self.project.status()["state"]
        assert state == self.model.state(), f"rcflow says {state}, the model {where}"

    # -- rules -----------------------------------------------------------------------------

    @rule(part=st.sampled_from(["patch", "minor", "auto"]))
    def bump(self, part: str) -> None:
        self.run(("bump", part), lambda head: self.model.bump(part, head))

    @rule()
    def rc(self) -> None:
        self.run(("rc",), lambda head: self.model.rc())

    @rule()
    def validate(self) -> None:
        self.run(("validate",), lambda head: self.model.validate())

    @rule()
    def promote(self) -> None:
        self.run(("promote",), lambda head: self.model.promote())

    @rule()
    def rollback(self) -> None:
        self.run(("rollback",), lambda head: self.model.rollback(head))

    @rule()
    def rollback_named(self) -> None:
        """Names the newest transition: how an older one is undone after a rollback."""
        name = self.model.newest_name()
        if name is None:
            self.rollback()
            return
        self.run(("rollback", name), lambda head: self.model.rollback(head, named=True))

    @rule(data=st.data())
    def proceed(self, data: st.DataObject) -> None:
        """The step the lifecycle suggests next, so that short runs reach the late states too."""
        options: dict[str, list[tuple[str, ...]]] = {
            "idle": [("bump", "minor"), ("bump", "patch")],
            "bumped": [("rc",), ("rollback_named",)],
            "candidate": [("validate",), ("rollback_named",)],
            "validated": [("promote",), ("rc",), ("rollback_named",)],
            "rejected": [("rc",), ("rollback_named",), ("validate",)],
            "released": [("bump", "patch"), ("bump", "auto"), ("rollback_named",)],
            "retracted": [("bump", "patch"), ("bump", "minor")],
        }
        name, *args = data.draw(st.sampled_from(options[self.model.state()]))
        getattr(self, name)(*args)

    def push_commit(self, subject: str, *, broken: bool) -> None:
        self.commits += 1
        self.project.write(f"feature_{self.commits}.py", f"VALUE = {self.commits}\n")
        marker = self.project.root / "BROKEN"
        if broken:
            marker.write_text("the build is broken\n", encoding="utf-8")
        else:
            marker.unlink(missing_ok=True)
        sha = self.project.commit(subject)
        self.project.push()
        self.model.commit(sha, subject, broken)
        self.trace.append(f"commit {subject!r} + push")
        assert self.project.status()["state"] == self.model.state(), self.trace

    @precondition(lambda self: self.commits < 4)
    @rule()
    def new_commit(self) -> None:
        """A new feature, pushed (it keeps the build as it was)."""
        self.push_commit(f"feat: feature {self.commits + 1}", broken=self.model.broken)

    @precondition(lambda self: self.commits < 4 and not self.model.broken)
    @rule()
    def break_the_build(self) -> None:
        self.push_commit("chore: a change that breaks the build", broken=True)

    @precondition(lambda self: self.commits < 4 and self.model.broken)
    @rule()
    def fix_the_build(self) -> None:
        self.push_commit("chore: repair the build", broken=False)

    # -- what holds whatever happened ------------------------------------------------------

    @invariant()
    def tags_never_move_or_come_back(self) -> None:
        local, remote = self.project.local_tags(), self.project.remote_tags()
        for tags in (local, remote):
            for name, sha in tags.items():
                first = self.seen.setdefault(name, sha)
                assert sha == first, f"{name} moved from {first[:7]} to {sha[:7]}: {self.trace}"
                assert name not in self.model.withdrawn, f"{name} came back: {self.trace}"
        for name in set(self.seen) - set(local) - set(remote):
            assert name in self.model.withdrawn, f"{name} vanished: {self.trace}"

    @invariant()
    def finals_sit_on_validated_rc_commits(self) -> None:
        tags = self.project.remote_tags()
        events = self.project.ledger()
        passed = {
            e["data"]["sha"]
            for e in events
            if e["kind"] == "validate_completed" and e["data"].get("passed")
        }
        for name, sha in tags.items():
            if "-rc." in name or name == "v1.3.0":
                continue
            rcs = [t for t, s in tags.items() if t.startswith(f"{name}-rc.") and s == sha]
            assert rcs, f"{name} is on no RC of its version: {self.trace}"
            assert sha in passed, f"{name} is on {sha[:7]}, never validated: {self.trace}"

    @invariant()
    def rc_numbers_are_never_reused(self) -> None:
        tagged = [e["key"] for e in self.project.ledger() if e["kind"] == "rc_tagged"]
        assert len(tagged) == len(set(tagged)), f"an RC was tagged twice: {tagged} {self.trace}"
        for name in self.model.withdrawn:
            assert name not in self.project.local_tags(), self.trace
        assert set(tagged) >= {t for t in self.seen if "-rc." in t}, self.trace

    @invariant()
    def the_model_agrees_on_the_rc_numbers(self) -> None:
        target = self.model.target
        data = self.project.status()
        assert data["target"] == (vs(target) if target else None), self.trace
        live = self.model.live()
        assert data["rc"] == (live[-1].number if live else None), self.trace


def test_random_command_sequences_keep_the_promises() -> None:
    run_state_machine_as_test(
        ReleaseMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


# -- sequences the machine found, replayed as plain tests --------------------------------------


def replay(*steps: tuple[str, ...]) -> ReleaseMachine:
    machine = ReleaseMachine()
    try:
        for name, *args in steps:
            getattr(machine, name)(*args)
            machine.tags_never_move_or_come_back()
            machine.finals_sit_on_validated_rc_commits()
            machine.rc_numbers_are_never_reused()
            machine.the_model_agrees_on_the_rc_numbers()
    finally:
        machine.teardown()
    return machine


def test_rollback_after_bumping_back_to_a_version_reverts_the_newest_bump() -> None:
    """1.3.1, then 1.4.0, then 1.3.1 again: rolling back must restore 1.4.0 (the newest bump).

    The second `bumped 1.3.1` was skipped as "already recorded" (the first one had the same kind
    and key), so the ledger pointed at the first bump commit and rollback reverted that one.
    """
    replay(
        ("bump", "patch"),
        ("bump", "minor"),
        ("bump", "patch"),
        ("rollback",),
        ("rollback",),  # already done: the bump to 1.4.0 under it goes only when named
        ("rollback_named",),
    )


def test_a_finished_bump_revert_is_not_redone_when_a_later_revert_restores_the_version() -> None:
    """1.4.0, 1.3.1, 1.4.0 again; roll back twice (→ 1.3.1 → 1.4.0, the second by name); a
    third, named, refuses; an unnamed one after them is already done.

    It used to "finish a rollback that was interrupted" — the first revert, long finished — and
    revert the bump commit a second time, changing the version files with no ledger event.
    """
    replay(
        ("bump", "minor"),
        ("bump", "patch"),
        ("bump", "minor"),
        ("rollback",),
        ("rollback_named",),
        ("rollback_named",),
        ("rollback",),
    )
