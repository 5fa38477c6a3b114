"""SIGINT and SIGTERM during a step, against the real CLI in a subprocess.

What a cancelled CI job (SIGINT, then SIGTERM) or a Ctrl-C must leave behind: no process of the
running validation, build or hook (its whole process group), no lease, nothing recorded as
passed, exit 130 / 143 with the state and the resume command; a re-run then converges.

The configured commands run `sleep` in the background of a shell, so that a grandchild of
rcflow in the same process group is checked too. They finish at once when FAST is set: that is
the re-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.ledger import held_lease
from tests.support.project import Project, fresh_clone

LIMIT = 120.0  # a generous upper bound on any wait below; none of them is what is asserted

SLOW = (
    'if [ -n "$FAST" ]; then {done} exit 0; fi; {trap}'
    'sleep 600 & echo $! > "$PIDS/{name}.child"; echo $$ > "$PIDS/{name}"; wait'
)


def slow(name: str, *, stubborn: bool = False, done: str = "") -> str:
    """A shell command that waits (with a grandchild) until signalled, unless FAST is set."""
    trap = "trap '' INT TERM; " if stubborn else ""
    return SLOW.format(name=name, trap=trap, done=done)


def poll(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) is gone as far as anyone is concerned.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Run:
    """`rcflow ARGS` started in the background, in its own process group like a CI job step."""

    def __init__(self, p: Project, pids: Path, *args: str) -> None:
        self.p = p
        env = {**os.environ, "PIDS": str(pids)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rcflow", *args, "--yes"],
            cwd=p.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self) -> tuple[int, str]:
        try:
            _, err = self.proc.communicate(timeout=LIMIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, err


def started(pids: Path, name: str) -> tuple[int, int]:
    """The shell's and its background sleep's pids, once the command is running."""
    poll(lambda: (pids / name).is_file() and (pids / f"{name}.child").is_file(), f"{name}")
    poll(lambda: (pids / name).read_text().strip() != "", f"{name}'s pid")
    return int((pids / name).read_text()), int((pids / f"{name}.child").read_text())


def interrupted(
    p: Project, tmp_path: Path, step: str, *signums: int, at: tuple[str, ...]
) -> tuple[int, str, list[int]]:
    """`rcflow <step> --yes` on p, sent `signums` once the slow commands named `at` all run:
    its exit code, its stderr, and the pids (shell, child) of those commands."""
    pids = tmp_path / "pids"
    pids.mkdir()
    run = Run(p, pids, step)
    running = [pid for name in at for pid in started(pids, name)]
    for signum in signums:
        run.signal(signum)
    code, err = run.finish()
    return code, err, running


def assert_stopped(code: int, err: str, signum: int, *pids: int) -> None:
    assert code == 128 + signum, err
    assert f"stopped by {signal.Signals(signum).name}" in err, err
    assert "Traceback" not in err, err
    assert "state: " in err and "resume with: rcflow " in err, err
    for pid in pids:
        poll(lambda pid=pid: not alive(pid), f"process {pid} to be gone")  # type: ignore[misc]


def candidate(make_project: Callable[..., Project], config: str) -> Project:
    p = make_project(config=config)
    for step in (("bump", "minor"), ("rc",)):
        result = p.run(*step, "--yes", env={"FAST": "1"})
        assert result.exit_code == 0, result.stderr
    return p


VALIDATE = '[[validate]]\nname = "slow"\nrun = """{run}"""\n'


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_validate_stops_it_and_a_rerun_converges(
    make_project: Callable[..., Project], tmp_path: Path, signum: int
) -> None:
    p = candidate(make_project, VALIDATE.format(run=slow("slow")))
    code, err, (shell, child) = interrupted(p, tmp_path, "validate", signum, at=("slow",))

    assert_stopped(code, err, signum, shell, child)
    assert "nothing was recorded" in err, err
    assert "candidate (v1.4.0-rc.1)" in err, err
    assert "rcflow validate --yes" in err, err
    ledger = p.ledger()
    assert held_lease(ledger) is None
    assert not [e for e in ledger if e["kind"].startswith(("validation_", "validate_"))]
    assert p.status()["state"] == "candidate"
    assert not (p.root / ".git" / "rcflow" / "worktrees" / "v1.4.0-rc.1-slow").exists()

    # The CI job is run again, on another runner: it is not refused, and it converges.
    other = fresh_clone(p, p.base / "rerun")
    again = other.run("validate", "--yes", env={"FAST": "1"})
    assert again.exit_code == 0, again.stderr
    assert other.kinds()[-2:] == ["validation_passed", "validate_completed"]
    assert held_lease(other.ledger()) is None
    twice = other.run("validate", "--yes")
    assert twice.exit_code == 0 and "Already done" in twice.stdout, twice.stderr


def test_two_validations_both_stopped(make_project: Callable[..., Project], tmp_path: Path) -> None:
    config = "".join(
        VALIDATE.format(run=slow(name)).replace('"slow"', f'"{name}"') for name in ("one", "two")
    )
    p = candidate(make_project, config)
    code, err, running = interrupted(p, tmp_path, "validate", signal.SIGTERM, at=("one", "two"))
    assert_stopped(code, err, signal.SIGTERM, *running)
    assert "2 running command(s) stopped" in err, err
    assert held_lease(p.ledger()) is None
    assert not [e for e in p.ledger() if e["kind"].startswith(("validation_", "validate_"))]


def test_a_command_ignoring_the_signal_is_killed_after_the_grace(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    p = candidate(make_project, VALIDATE.format(run=slow("slow", stubborn=True)))
    code, err, (shell, child) = interrupted(p, tmp_path, "validate", signal.SIGTERM, at=("slow",))
    assert_stopped(code, err, signal.SIGTERM, shell, child)
    assert "killed after the 10s grace" in err, err
    assert held_lease(p.ledger()) is None


def test_a_second_signal_cuts_the_grace_short(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    """A cancelled GitHub Actions job: SIGINT, then SIGTERM before the grace is over."""
    p = candidate(make_project, VALIDATE.format(run=slow("slow", stubborn=True)))
    code, err, (shell, child) = interrupted(
        p, tmp_path, "validate", signal.SIGINT, signal.SIGTERM, at=("slow",)
    )
    assert_stopped(code, err, signal.SIGINT, shell, child)
    assert "killed at the second signal" in err, err
    assert held_lease(p.ledger()) is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_the_asset_build(
    make_project: Callable[..., Project], tmp_path: Path, signum: int
) -> None:
    build = slow("build", done="mkdir -p dist; echo x > dist/a.txt;")
    p = make_project(config=f'[assets]\nfiles = ["dist/*"]\nbuild = """{build}"""\n')
    assert p.run("bump", "minor", "--yes").exit_code == 0
    code, err, (shell, child) = interrupted(p, tmp_path, "rc", signum, at=("build",))
    assert_stopped(code, err, signum, shell, child)
    assert "rcflow rc --yes" in err, err
    assert held_lease(p.ledger()) is None
    assert "rc_tagged" not in p.kinds()

    again = p.run("rc", "--yes", env={"FAST": "1"})
    assert again.exit_code == 0, again.stderr
    assert p.status()["state"] == "candidate"
    assert held_lease(p.ledger()) is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_a_hook(
    make_project: Callable[..., Project], tmp_path: Path, signum: int
) -> None:
    p = candidate(make_project, f'[hooks]\nafter_promote = """{slow("hook")}"""\n')
    assert p.run("validate", "--yes").exit_code == 0
    code, err, (shell, child) = interrupted(p, tmp_path, "promote", signum, at=("hook",))
    assert_stopped(code, err, signum, shell, child)
    assert "rcflow promote --yes" in err, err
    assert held_lease(p.ledger()) is None
    assert "hook_succeeded" not in p.kinds()

    again = p.run("promote", "--yes", env={"FAST": "1"})
    assert again.exit_code == 0, again.stderr
    assert p.kinds()[-1] == "hook_succeeded"
    assert held_lease(p.ledger()) is None
