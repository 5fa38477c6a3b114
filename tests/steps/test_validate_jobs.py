"""validate: how many commands run at once (validate_jobs, --jobs), results kept as they finish."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rcflow.model.config import ValidationConfig
from rcflow.model.effects import RunValidations, ValidationSpec
from rcflow.steps.validate import ValidateArgs
from tests.support.crash import Attempt, count_writes, crash_each_write
from tests.support.ledger import events, held_lease
from tests.support.project import Project, copy_project, fresh_clone
from tests.support.scenario import at

PY = shlex.quote(sys.executable)
TAG = "v1.4.0-rc.1"
LIMIT = 120.0  # an upper bound on waits below; never what is asserted

# Mark myself running, note how many run now, stay a moment, unmark; count my runs.
COUNTED = """\
import pathlib, sys, time
running, seen, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
(running / name).touch()
with (seen / name).open("a") as fh:
    fh.write(str(len(list(running.iterdir()))) + "\\n")
time.sleep(0.3)
(running / name).unlink()
"""


def validation(name: str, run: str, *, required: bool = True) -> str:
    return (
        f'[[validate]]\nname = "{name}"\nrun = {json_str(run)}\n'
        f"required = {str(required).lower()}\n\n"
    )


def json_str(text: str) -> str:
    import json

    return json.dumps(text)


def counted(tmp_path: Path, name: str) -> str:
    script = tmp_path / "counted.py"
    script.write_text(COUNTED)
    running, seen = tmp_path / "running", tmp_path / "seen"
    running.mkdir(exist_ok=True)
    seen.mkdir(exist_ok=True)
    return " ".join([PY, *(shlex.quote(str(a)) for a in (script, running, seen, name))])


def most_at_once(tmp_path: Path) -> int:
    return max(int(n) for f in (tmp_path / "seen").iterdir() for n in f.read_text().split())


def runs_of(tmp_path: Path, name: str) -> int:
    f = tmp_path / "seen" / name
    return len(f.read_text().split()) if f.exists() else 0


# -- configuration and option --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("0", "rcflow.toml: validate_jobs: must be at least 1, got 0"),
        ("-2", "rcflow.toml: validate_jobs: must be at least 1, got -2"),
        ('"4"', "rcflow.toml: validate_jobs: expected a whole number, got a string"),
        ("true", "rcflow.toml: validate_jobs: expected a whole number, got a boolean"),
        ("1.5", "rcflow.toml: validate_jobs: expected a whole number, got a float"),
    ],
)
def test_a_bad_validate_jobs_is_refused_with_its_cause(
    make_project: Any, value: str, cause: str
) -> None:
    p = at(make_project(config=validation("unit", "true")), "rc")
    p.write("rcflow.toml", f"validate_jobs = {value}\n" + validation("unit", "true"))
    before = p.ledger()

    result = p.cli("validate")

    assert result.exit_code == 2, result.stderr
    assert cause in result.stderr
    assert "Traceback" not in result.stderr
    assert p.ledger() == before


@pytest.mark.parametrize("jobs", ["0", "-1", "many"])
def test_a_bad_jobs_option_is_refused(make_project: Any, jobs: str) -> None:
    p = at(make_project(config=validation("unit", "true")), "rc")
    before = p.ledger()

    result = p.cli("validate", "--jobs", jobs)

    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    if jobs != "many":
        assert f"--jobs {jobs}: must be at least 1" in result.stderr
    assert p.ledger() == before


def test_validate_jobs_bounds_the_commands_and_the_plan_says_so(
    make_project: Any, tmp_path: Path
) -> None:
    config = "validate_jobs = 2\n" + "".join(
        validation(f"v{i}", counted(tmp_path, f"v{i}")) for i in range(5)
    )
    p = at(make_project(config=config), "rc")

    planned = p.cli("validate", "--dry-run")
    assert "in a clean worktree (2 at a time)" in planned.stdout
    result = p.cli("validate")

    assert result.exit_code == 0, result.stderr
    assert 1 <= most_at_once(tmp_path) <= 2
    assert [runs_of(tmp_path, f"v{i}") for i in range(5)] == [1] * 5
    assert p.status()["state"] == "validated"
    again = p.cli("validate")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert [runs_of(tmp_path, f"v{i}") for i in range(5)] == [1] * 5


def test_the_jobs_option_overrides_the_configuration(make_project: Any, tmp_path: Path) -> None:
    config = "validate_jobs = 4\n" + "".join(
        validation(f"v{i}", counted(tmp_path, f"v{i}")) for i in range(3)
    )
    p = at(make_project(config=config), "rc")

    plan = p.cli("validate", "--jobs", "1", "--dry-run", "--json").json()
    [effect] = plan["plan"]["effects"]
    assert effect["jobs"] == 1
    result = p.cli("validate", "--jobs", "1")

    assert result.exit_code == 0, result.stderr
    assert most_at_once(tmp_path) == 1


def test_the_lease_covers_commands_that_wait_for_a_slot() -> None:
    def spec(name: str, timeout: float, kind: str = "command") -> ValidationSpec:
        return ValidationSpec(ValidationConfig(name, "true", timeout, kind=kind))

    specs = (spec("a", 600), spec("b", 600), spec("c", 600), spec("gh", 900, "checks"))
    assert RunValidations("t", "s", "v", specs).longest_wait() == 900
    assert RunValidations("t", "s", "v", specs, jobs=3).longest_wait() == 900
    # One at a time: three commands one after the other (the bound is 1800 + 600).
    assert RunValidations("t", "s", "v", specs, jobs=1).longest_wait() >= 1800
    assert RunValidations("t", "s", "v", (), jobs=1).longest_wait() == 0


# -- results as they finish -------------------------------------------------------------------


def test_a_stopped_run_keeps_the_results_that_finished(make_project: Any, tmp_path: Path) -> None:
    """SIGTERM while `slow` runs, after `fast` passed: fast's result stays on the ledger, and
    the re-run (another machine) runs only slow."""
    pids = tmp_path / "pids"
    pids.mkdir()
    slow = (
        'if [ -n "$FAST" ]; then exit 0; fi; '
        f"echo $$ > {shlex.quote(str(pids / 'slow'))}; exec sleep 600"
    )
    config = validation("fast", counted(tmp_path, "fast")) + validation("slow", slow)
    p = at(make_project(config=config), "rc")
    run = subprocess.Popen(
        [sys.executable, "-m", "rcflow", "validate", "--yes"],
        cwd=p.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + LIMIT
    while not ((pids / "slow").is_file() and events(p, "validation_passed")):
        assert time.monotonic() < deadline and run.poll() is None, "validate never got there"
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=LIMIT)

    assert run.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    [passed] = events(p, "validation_passed")
    assert passed["key"] == f"{TAG}/fast"
    assert not events(p, "validation_failed", "validate_completed")
    assert held_lease(p.ledger()) is None
    assert not list((p.root / ".git" / "rcflow" / "worktrees").iterdir())
    slow_pid = int((pids / "slow").read_text())
    assert (
        not Path(f"/proc/{slow_pid}").exists()
        or " Z " in Path(f"/proc/{slow_pid}/stat").read_text()
    )

    other = fresh_clone(p, p.base / "rerun")
    again = subprocess.run(
        [sys.executable, "-m", "rcflow", "validate", "--yes"],
        cwd=other.root,
        env={**os.environ, "FAST": "1"},
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert again.returncode == 0, again.stderr
    assert "fast already passed" in again.stdout
    assert runs_of(tmp_path, "fast") == 1
    assert [e["key"] for e in events(other, "validation_passed")] == [
        f"{TAG}/fast",
        f"{TAG}/slow",
    ]
    assert other.status()["state"] == "validated"
    twice = other.cli("validate")
    assert twice.exit_code == 0 and "Already done" in twice.stdout


def results(p: Project) -> list[dict[str, Any]]:
    return [e for e in p.ledger() if e["kind"] in ("validation_passed", "validation_failed")]


def test_crash_after_each_result_then_resume_converges(make_project: Any, tmp_path: Path) -> None:
    """Each result is its own append: a crash at any write, then a re-run here or from a fresh
    clone, ends with every result once, in the ledger, and nothing run again that passed."""
    config = (
        "validate_jobs = 2\n"
        + validation("unit", "echo unit")
        + validation("lint", "echo lint")
        + validation("docs", "exit 3", required=False)
    )
    template = at(make_project(config=config), "rc")
    twin = copy_project(template, tmp_path / "twin")
    writes = len(count_writes(twin, "validate", ValidateArgs()))
    expected = {f"{TAG}/unit": "validation_passed", f"{TAG}/lint": "validation_passed"}

    def resume(crash: Attempt) -> None:
        p = crash.fresh_clone() if crash.k % 2 else crash.project
        before = results(p)
        rerun = p.cli("validate")

        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        after = results(p)
        last = {e["key"]: e["kind"] for e in after}
        assert {k: v for k, v in last.items() if k != f"{TAG}/docs"} == expected, crash.where
        assert last[f"{TAG}/docs"] == "validation_failed", crash.where
        # What the crashed run had recorded as passed was not run again.
        assert after[: len(before)] == before, crash.where
        again = {e["key"] for e in after[len(before) :]}
        passed_before = {e["key"] for e in before if e["kind"] == "validation_passed"}
        assert not again & passed_before, crash.where
        assert p.status()["state"] == "validated", crash.where
        assert p.cli("validate").exit_code == 0

    crash_each_write(
        lambda name: copy_project(template, tmp_path / name),
        "validate",
        ValidateArgs(),
        resume,
        writes=writes,
    )
