"""Random ladder sequences (issue 15) against one real project each: the promises that hold
whatever happens. Cut at a random stage, promote up the ladder or to the final, validate, roll
back, push new commits (some break the build) — and then:

- no pre-release number is ever used twice, and no tag moves or comes back once withdrawn;
- nothing is promoted (up the ladder or to the final) from a commit no validate run passed on;
- no required stage is skipped: an rc promoted from a beta, a final from an rc of its version;
- a refusal changes nothing, and no valid command is a usage error.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

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

CONFIG = (
    'stages = ["beta", "rc"]\n'
    '[[validate]]\nname = "unit"\nrun = "test ! -e BROKEN"\n'
    '[[validate]]\nname = "e2e"\nrun = "true"\nstages = ["rc"]\n'
)


class LadderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="rcflow-ladder-"))
        self.project = Project(self.base).create(config=CONFIG)
        self.seen: dict[str, str] = dict(self.project.remote_tags())
        self.withdrawn: set[str] = set()
        self.commits = 0
        self.broken = False
        self.trace: list[str] = []
        self.run(("bump", "minor"))

    def teardown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def run(self, args: tuple[str, ...]) -> None:
        before, ledger = self.project.world(), self.project.ledger()
        result = self.project.cli(*args)
        self.trace.append(f"{' '.join(args)} -> {result.exit_code}")
        where = f"{self.trace}\n{result.stdout}\n{result.stderr}"
        assert result.exit_code in (0, 1, 3), where
        if result.exit_code == 3:
            assert self.project.world() == before, f"a refusal changed the world: {where}"
            assert self.project.ledger() == ledger, f"a refusal wrote the ledger: {where}"
        if result.exit_code in (0, 1):
            assert self.project.local_tags() == self.project.remote_tags(), where
        self.withdrawn |= {e["key"] for e in self.project.ledger() if e["kind"] == "rc_withdrawn"}

    @rule(stage=st.sampled_from([None, "beta", "rc"]))
    def cut(self, stage: str | None) -> None:
        self.run(("rc", *(("--stage", stage) if stage else ())))

    @rule()
    def validate(self) -> None:
        self.run(("validate",))

    @rule(to=st.sampled_from(["beta", "rc", None]))
    def promote(self, to: str | None) -> None:
        self.run(("promote", *(("--to", to) if to else ())))

    @rule()
    def rollback(self) -> None:
        self.run(("rollback",))

    @precondition(lambda self: self.commits < 3)
    @rule(broken=st.booleans())
    def new_commit(self, broken: bool) -> None:
        self.commits += 1
        self.project.write(f"feature_{self.commits}.py", f"VALUE = {self.commits}\n")
        marker = self.project.root / "BROKEN"
        if broken:
            marker.write_text("broken\n", encoding="utf-8")
        else:
            marker.unlink(missing_ok=True)
        self.project.commit(f"fix: change {self.commits}")
        self.project.push()
        self.trace.append(f"commit (broken={broken})")

    # -- the promises ----------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        return self.project.ledger()

    @invariant()
    def numbers_are_never_reused_and_tags_never_move(self) -> None:
        tagged = [e["key"] for e in self.events() if e["kind"] == "rc_tagged"]
        assert len(tagged) == len(set(tagged)), (tagged, self.trace)
        for name, sha in self.project.remote_tags().items():
            first = self.seen.setdefault(name, sha)
            assert sha == first, (name, self.trace)
            assert name not in self.withdrawn, (f"{name} came back", self.trace)

    @invariant()
    def promotions_come_from_validated_commits_one_stage_up(self) -> None:
        passed: set[str] = set()
        tags = self.project.remote_tags()
        for e in self.events():
            data = e["data"]
            if e["kind"] == "validate_completed" and data.get("passed"):
                passed.add(data["sha"])
            elif e["kind"] == "rc_tagged" and data.get("from"):
                source = str(data["from"])
                assert data["sha"] in passed, (f"{e['key']} from an unvalidated sha", self.trace)
                assert "-beta." in source and "-rc." in e["key"], (e, self.trace)
            elif e["kind"] == "promoting":
                assert "-rc." in str(data["rc"]), (f"{e['key']} skipped rc", self.trace)
                assert data["sha"] in passed, (f"{e['key']} on an unvalidated sha", self.trace)
        for name, sha in tags.items():
            if "-" in name or name == "v1.3.0":
                continue
            rcs = [t for t, s in tags.items() if t.startswith(f"{name}-rc.") and s == sha]
            assert rcs, (f"{name} is on no rc of its version", self.trace)
            assert sha in passed, (f"{name} on a commit no stage validated", self.trace)


def test_random_ladder_sequences_keep_the_promises() -> None:
    run_state_machine_as_test(
        LadderMachine,
        settings=settings(
            max_examples=8,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


def test_the_machine_reaches_the_final_through_the_ladder() -> None:
    """The rules can get there: a sequence the machine may draw, replayed with its checks."""
    machine = LadderMachine()
    try:
        for step, *args in [
            ("cut", None),
            ("promote", "rc"),  # refused: beta.1 is not validated
            ("validate",),
            ("promote", None),  # refused: the final comes from rc
            ("promote", "rc"),
            ("validate",),
            ("promote", None),
        ]:
            getattr(machine, step)(*args)
            machine.numbers_are_never_reused_and_tags_never_move()
            machine.promotions_come_from_validated_commits_one_stage_up()
        assert [t.split(" ->")[1] for t in machine.trace[1:]] == [
            " 0",
            " 3",
            " 0",
            " 3",
            " 0",
            " 0",
            " 0",
        ], machine.trace
        assert "v1.4.0" in machine.project.remote_tags()
    finally:
        machine.teardown()
