"""The pre-release ladder end to end on the local forge (issue 15): cut at a stage, validate,
promote up the ladder on the same commit with the same asset bytes, then to the final."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from tests.support.crash import Attempt, crash_each_write
from tests.support.project import Project, assert_refused, copy_project, fresh_clone

LADDER = (
    'stages = ["beta", "rc"]\n'
    "[assets]\n"
    'files = ["dist/*"]\n'
    'build = "mkdir -p dist && printf \'%s\' \\"$RCFLOW_PEP440\\" > dist/app.txt"\n'
    '[[validate]]\nname = "unit"\nrun = "true"\n'
)


def ladder_project(tmp_path: Path, config: str = LADDER) -> Project:
    base = tmp_path / "p"
    base.mkdir(parents=True)
    return Project(base).create(config=config)


def ok(p: Project, *args: str) -> str:
    result = p.cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout + result.stderr


def test_beta_to_rc_to_final_same_commit_same_bytes(tmp_path: Path) -> None:
    p = ladder_project(tmp_path)
    ok(p, "bump", "minor")
    ok(p, "rc")  # nothing in flight: enters at the first stage
    tags = p.remote_tags()
    assert "v1.4.0-beta.1" in tags
    beta_sha = tags["v1.4.0-beta.1"]
    status = p.status()
    assert status["stage"] == "beta"
    assert [s["name"] for s in status["stages"]] == ["beta", "rc"]
    assert status["next"] == ["validate", "rc", "rollback"]
    assert p.forge_asset("v1.4.0-beta.1", "app.txt") == b"1.4.0b1"
    assert_refused(p, ("promote", "--to", "rc"), "v1.4.0-beta.1 has not passed validation")
    assert_refused(p, ("promote", "--to", "beta"), "v1.4.0-beta.1 is already at beta")
    assert_refused(p, ("promote",), "the final is promoted from rc")
    ok(p, "validate")
    assert p.status()["next"] == ["promote --to rc", "rc", "rollback"]
    ok(p, "promote", "--to", "rc")
    assert "Already done" in ok(p, "promote", "--to", "rc")  # the second run is a no-op
    tags = p.remote_tags()
    assert tags["v1.4.0-rc.1"] == beta_sha
    # No rebuild: the rc's asset is the beta's bytes, SHA256SUMS carried with it.
    assert p.forge_asset("v1.4.0-rc.1", "app.txt") == b"1.4.0b1"
    assert p.forge_asset("v1.4.0-rc.1", "SHA256SUMS") == p.forge_asset(
        "v1.4.0-beta.1", "SHA256SUMS"
    )
    status = p.status()
    assert status["stage"] == "rc"
    # unit's pass at beta carries over: the same commit, and unit applies to rc too.
    assert status["state"] == "validated"
    text = ok(p, "status")
    assert "rc (current)" in text
    assert "carried over from a lower stage: unit" in text
    assert "Ladder moves: rcflow rc --stage beta, rcflow rc --stage rc, rcflow promote" in text
    assert "stage=rc sha=" in ok(p, "log") and "promoted from v1.4.0-beta.1" in ok(p, "log")
    assert_refused(p, ("promote", "--to", "beta"), "below")
    assert "v1.4.0-rc.1 already tags HEAD" in ok(p, "rc", "--stage", "rc")
    assert "v1.4.0-beta.1 already tags HEAD" in ok(p, "rc", "--stage", "beta")
    ok(p, "promote")
    assert "Already done" in ok(p, "promote")
    assert p.remote_tags()["v1.4.0"] == beta_sha
    assert p.forge_asset("v1.4.0", "app.txt") == b"1.4.0b1"
    # From another machine: the same answers.
    clone = fresh_clone(p, tmp_path / "fresh")
    assert clone.status()["state"] == "released"
    assert "Already done" in ok(clone, "promote")


def test_numbers_are_per_stage_and_never_reused(tmp_path: Path) -> None:
    p = ladder_project(tmp_path)
    ok(p, "bump", "minor")
    ok(p, "rc", "--stage", "beta")
    ok(p, "rollback", "v1.4.0-beta.1")
    p.write("fix.py", "x = 1\n")
    p.commit("fix: one")
    p.push()
    ok(p, "rc")
    assert "v1.4.0-beta.2" in p.remote_tags()
    ok(p, "validate")
    ok(p, "promote", "--to", "rc")
    # rollback withdraws the newest pre-release of the current stage: beta is current again.
    ok(p, "rollback")
    status = p.status()
    assert status["stage"] == "beta"
    ok(p, "promote", "--to", "rc")
    assert "v1.4.0-rc.2" in p.remote_tags()  # rc.1 was withdrawn: its number stays used


def test_a_new_commit_enters_at_or_below_the_current_stage(tmp_path: Path) -> None:
    p = ladder_project(tmp_path)
    ok(p, "bump", "minor")
    assert_refused(p, ("rc", "--stage", "rc"), "it enters at beta")
    ok(p, "rc")
    p.write("fix.py", "x = 1\n")
    p.commit("fix: one")
    p.push()
    assert_refused(p, ("rc", "--stage", "rc"), "a new commit enters at beta or below")
    ok(p, "rc", "--stage", "beta")
    assert "v1.4.0-beta.2" in p.remote_tags()
    notes = str((p.forge_release("v1.4.0-beta.2") or {}).get("notes", ""))
    # A stage's notes: the changes since the last final, and since the previous pre-release.
    assert "Changes since v1.4.0-beta.1:\n- fix: one (" in notes, notes
    assert "add a feature" in notes


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("rc", "--stage", "gamma"), "not a stage"),
        (("promote", "--to", "gamma"), "not a stage"),
    ],
)
def test_unknown_stage_is_a_usage_error(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    p = ladder_project(tmp_path)
    ok(p, "bump", "minor")
    world, ledger = p.world(), p.ledger()
    result = p.cli(*args)
    assert result.exit_code == 2, result.stderr
    assert says in result.stderr
    assert p.world() == world and p.ledger() == ledger


def test_skip_needs_skip_allowed(tmp_path: Path) -> None:
    three = LADDER.replace('["beta", "rc"]', '["alpha", "beta", "rc"]')
    p = ladder_project(tmp_path, three)
    ok(p, "bump", "minor")
    ok(p, "rc")
    ok(p, "validate")
    assert_refused(p, ("promote", "--to", "rc"), "would skip beta")
    q = ladder_project(tmp_path / "q", 'skip_allowed = ["beta"]\n' + three)
    ok(q, "bump", "minor")
    ok(q, "rc")
    ok(q, "validate")
    ok(q, "promote", "--to", "rc")
    assert "v1.4.0-rc.1" in q.remote_tags()


class Clock:
    """The clock observe reads (`Snapshot.now`), moved by the test: no waiting, no timing."""

    def __init__(self) -> None:
        import time

        self.offset = 0.0
        self._time = time.time

    def time(self) -> float:
        return self._time() + self.offset


SOAKED = LADDER + '[stage.beta]\nsoak = "48h"\n[release]\nsoak = "24h"\n'


def test_soak_holds_promotion_until_the_time_has_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rcflow.engine.observe as observe

    clock = Clock()
    monkeypatch.setattr(observe, "time", clock)
    p = ladder_project(tmp_path, SOAKED)
    ok(p, "bump", "minor")
    ok(p, "rc")
    ok(p, "validate")
    world, ledger = p.world(), p.ledger()
    result = p.cli("promote", "--to", "rc")
    assert result.exit_code == 3, result.stderr
    assert "v1.4.0-beta.1 is soaking at beta: 47h59m left" in result.stderr or (
        "v1.4.0-beta.1 is soaking at beta: 48h left" in result.stderr
    )
    assert p.world() == world and p.ledger() == ledger
    beta = p.status()["stages"][0]
    assert beta["name"] == "beta" and 0 < beta["tags"][0]["soak_left"] <= 48 * 3600
    clock.offset = 47 * 3600.0
    assert_refused(p, ("promote", "--to", "rc"), "left")
    clock.offset = 48 * 3600.0 + 60
    ok(p, "promote", "--to", "rc")
    # The final waits for the last stage's soak ([release] soak), counted from rc.1's tag
    # (its event carries the real time the ledger was written: the clock goes back to it).
    clock.offset = 0.0
    assert_refused(p, ("promote",), "v1.4.0-rc.1 is soaking at rc: ")
    ok(p, "promote", "--skip-check", "soak")
    waived = [e for e in p.ledger() if e["kind"] == "check_waived"]
    assert waived and waived[-1]["key"].startswith("soak@")
    assert p.remote_tags()["v1.4.0"] == p.remote_tags()["v1.4.0-beta.1"]


# -- crashes: each ladder step interrupted after every write, resumed here or on another machine


def ladder_outcome(p: Project, tag: str) -> dict[str, object]:
    status = p.status()
    return {
        "remote_tags": p.remote_tags(),
        "kinds": p.kinds(),
        "asset": p.forge_asset(tag, "app.txt"),
        "sums": p.forge_asset(tag, "SHA256SUMS"),
        "release": {
            k: v for k, v in (p.forge_release(tag) or {}).items() if k not in ("created", "time")
        },
        "state": {k: status[k] for k in ("state", "stage", "tag", "next", "problems")},
    }


ALPHA = LADDER.replace('stages = ["beta", "rc"]', 'stages = ["alpha", "beta", "rc"]')


@pytest.mark.parametrize(
    ("config", "before", "step", "args", "argv", "tag"),
    [
        (
            LADDER,
            ("bump",),
            "rc",
            RcArgs(stage="beta"),
            ("rc", "--stage", "beta"),
            "v1.4.0-beta.1",
        ),
        (
            LADDER,
            ("bump", "rc", "validate"),
            "promote",
            PromoteArgs(to="rc"),
            ("promote", "--to", "rc"),
            "v1.4.0-rc.1",
        ),
        (
            LADDER,
            ("bump", "rc", "validate", "promote --to rc"),
            "promote",
            PromoteArgs(),
            ("promote",),
            "v1.4.0",
        ),
        # The whole three-stage ladder: alpha enters, climbs to beta, to rc, to the final.
        (
            ALPHA,
            ("bump",),
            "rc",
            RcArgs(stage="alpha"),
            ("rc", "--stage", "alpha"),
            "v1.4.0-alpha.1",
        ),
        (
            ALPHA,
            ("bump", "rc", "validate"),
            "promote",
            PromoteArgs(to="beta"),
            ("promote", "--to", "beta"),
            "v1.4.0-beta.1",
        ),
        (
            ALPHA,
            ("bump", "rc", "validate", "promote --to beta"),
            "promote",
            PromoteArgs(to="rc"),
            ("promote", "--to", "rc"),
            "v1.4.0-rc.1",
        ),
        (
            ALPHA,
            ("bump", "rc", "validate", "promote --to beta", "promote --to rc"),
            "promote",
            PromoteArgs(),
            ("promote",),
            "v1.4.0",
        ),
    ],
    ids=["beta", "beta-to-rc", "rc-to-final", "alpha", "alpha-to-beta", "to-rc", "to-final"],
)
def test_each_ladder_step_resumes_after_a_crash(
    tmp_path: Path,
    config: str,
    before: tuple[str, ...],
    step: str,
    args: object,
    argv: tuple[str, ...],
    tag: str,
) -> None:
    template = ladder_project(tmp_path / "template", config)
    for command in before:
        words = ("bump", "minor") if command == "bump" else tuple(command.split())
        ok(template, *words)
    twin = copy_project(template, tmp_path / "twin")
    ok(twin, *argv)
    expected = ladder_outcome(twin, tag)

    def resume(crash: Attempt) -> None:
        # Odd crashes are finished by another machine: a fresh clone of the origin.
        p = crash.fresh_clone() if crash.k % 2 else crash.project
        rerun = p.cli(*argv)
        assert rerun.exit_code == 0, (crash.where, rerun.stdout, rerun.stderr)
        assert ladder_outcome(p, tag) == expected, crash.where
        again = p.cli(*argv)
        assert again.exit_code == 0 and "Already done" in again.stdout, (crash.where, again)

    crashes = crash_each_write(
        lambda name: copy_project(template, tmp_path / name), step, args, resume
    )
    assert {"create_tag", "push", "update_ref"} <= set(crashes), crashes


def test_rehearse_climbs_the_ladder_in_a_sandbox(tmp_path: Path) -> None:
    p = ladder_project(tmp_path, SOAKED)
    world = p.world()
    result = p.run("rehearse", "-C", str(p.root))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "promote to rc" in result.stdout and "validate at rc" in result.stdout
    assert p.world() == world  # nothing real was touched
