"""Command validations run directly: worktree, environment, logs, timeouts, order of results."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rcflow.adapters.git import Git
from rcflow.engine.validations.command import run_all
from rcflow.model.config import ValidationConfig
from rcflow.model.effects import ValidationSpec
from tests.support.project import Project

PY = shlex.quote(sys.executable)
TAG = "v1.4.0-rc.1"


class Progress:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, name: str, what: str, detail: str) -> None:
        self.seen.append((name, what, detail))


def spec(name: str, run: str, timeout: float = 60.0, required: bool = True) -> ValidationSpec:
    return ValidationSpec(ValidationConfig(name, run, timeout, required))


def repo(project: Project) -> Git:
    return Git(project.root, project.root / ".git")


def first_commit(project: Project) -> str:
    return project.git("rev-parse", "v1.3.0^{commit}")


def only_main_worktree(project: Project) -> bool:
    out = project.git("worktree", "list", "--porcelain")
    return [line for line in out.splitlines() if line.startswith("worktree ")] == [
        f"worktree {project.root}"
    ]


def test_no_specs_runs_nothing(project: Project) -> None:
    progress = Progress()
    assert (
        run_all(repo(project), [], tag=TAG, sha=project.head(), version="x", progress=progress)
        == []
    )
    assert progress.seen == []
    assert not (project.root / ".git" / "rcflow").exists()


def test_runs_at_the_given_commit_with_its_environment(project: Project, tmp_path: Path) -> None:
    sha = first_commit(project)
    out = tmp_path / "env.txt"
    run = (
        f'{{ git rev-parse HEAD; echo "$RCFLOW_TAG|$RCFLOW_SHA|$RCFLOW_VERSION"; '
        f"ls; }} > {shlex.quote(str(out))}"
    )

    [outcome] = run_all(
        repo(project),
        [spec("env", run)],
        tag=TAG,
        sha=sha,
        version="1.4.0-rc.1",
        progress=Progress(),
    )

    assert (outcome.name, outcome.passed, outcome.detail, outcome.required) == (
        "env",
        True,
        "exit 0",
        True,
    )
    head, env, *files = out.read_text().splitlines()
    assert head == sha
    assert env == f"{TAG}|{sha}|1.4.0-rc.1"
    # feature.py came in a later commit: the worktree is the given commit, not HEAD.
    assert files == ["pyproject.toml"]
    assert only_main_worktree(project)


def test_results_keep_the_order_of_specs_and_say_what_happened(project: Project) -> None:
    progress = Progress()
    specs = [
        spec("slowpass", "sleep 0.5; echo slow"),
        spec("fastfail", "echo nope >&2; exit 7", required=False),
    ]

    outcomes = run_all(
        repo(project), specs, tag=TAG, sha=project.head(), version="1.4.0-rc.1", progress=progress
    )

    assert [(o.name, o.passed, o.detail, o.required) for o in outcomes] == [
        ("slowpass", True, "exit 0", True),
        ("fastfail", False, "exit 7", False),
    ]
    assert outcomes[0].duration >= 0.5
    logs = project.root / ".git" / "rcflow" / "logs" / TAG
    assert [o.log for o in outcomes] == [str(logs / "slowpass.log"), str(logs / "fastfail.log")]
    assert (logs / "slowpass.log").read_text() == "slow\n"
    assert (logs / "fastfail.log").read_text() == "nope\n"
    whats = {(name, what) for name, what, _ in progress.seen}
    assert whats == {
        ("slowpass", "started"),
        ("slowpass", "passed"),
        ("fastfail", "started"),
        ("fastfail", "failed"),
    }
    # fastfail finished while slowpass was still running: they ran side by side.
    finished = [name for name, what, _ in progress.seen if what in ("passed", "failed")]
    assert finished == ["fastfail", "slowpass"]
    assert only_main_worktree(project)


def test_timeout_kills_the_whole_process_group(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "late.txt"
    # The grandchild would write the marker after 2s if it survived its group being killed.
    run = f"(sleep 2; echo survived > {shlex.quote(str(marker))}) & sleep 30"

    start = time.monotonic()
    [outcome] = run_all(
        repo(project),
        [spec("hang", run, timeout=0.5)],
        tag=TAG,
        sha=project.head(),
        version="1.4.0-rc.1",
        progress=Progress(),
    )

    assert time.monotonic() - start < 10
    assert (outcome.passed, outcome.detail) == (False, "timed out after 0.5s")
    time.sleep(2.5)
    assert not marker.exists()
    assert only_main_worktree(project)


def test_a_commit_that_cannot_be_checked_out_fails_only_that_validation(project: Project) -> None:
    missing = "0" * 40
    outcomes = run_all(
        repo(project),
        [spec("unit", "true")],
        tag=TAG,
        sha=missing,
        version="1.4.0-rc.1",
        progress=Progress(),
    )

    [outcome] = outcomes
    assert outcome.passed is False
    assert outcome.detail.startswith("could not check out 0000000: ")
    assert only_main_worktree(project)


def test_a_leftover_worktree_from_a_crashed_run_is_replaced(project: Project) -> None:
    sha = project.head()
    leftover = project.root / ".git" / "rcflow" / "worktrees" / f"{TAG}-unit"
    project.git("worktree", "add", "--detach", str(leftover), first_commit(project))
    (leftover / "junk.txt").write_text("from a crashed run\n")

    [outcome] = run_all(
        repo(project),
        [spec("unit", "test ! -e junk.txt && test -e feature.py")],
        tag=TAG,
        sha=sha,
        version="1.4.0-rc.1",
        progress=Progress(),
    )

    assert (outcome.passed, outcome.detail) == (True, "exit 0")
    assert not leftover.exists()
    assert only_main_worktree(project)


def test_names_are_made_safe_for_file_names(project: Project) -> None:
    [outcome] = run_all(
        repo(project),
        [spec("a/b c", "echo hi")],
        tag="v1.4.0-rc.1",
        sha=project.head(),
        version="1.4.0-rc.1",
        progress=Progress(),
    )

    log = project.root / ".git" / "rcflow" / "logs" / TAG / "a_b_c.log"
    assert outcome.log == str(log)
    assert log.read_text() == "hi\n"


def test_a_second_run_overwrites_the_log(project: Project) -> None:
    git = repo(project)
    for word in ("first", "second"):
        run_all(
            git,
            [spec("unit", f"echo {word}")],
            tag=TAG,
            sha=project.head(),
            version="1.4.0-rc.1",
            progress=Progress(),
        )
    assert (project.root / ".git" / "rcflow" / "logs" / TAG / "unit.log").read_text() == "second\n"


def test_maintainer_work_tree_is_untouched(project: Project) -> None:
    project.write("feature.py", "dirty = True\n")
    [outcome] = run_all(
        repo(project),
        [spec("unit", f"{PY} -c \"import pathlib; pathlib.Path('out.txt').write_text('x')\"")],
        tag=TAG,
        sha=project.head(),
        version="1.4.0-rc.1",
        progress=Progress(),
    )
    assert outcome.passed is True
    assert project.git("status", "--porcelain", "--untracked-files=all") == "M feature.py"
    assert project.read("feature.py") == "dirty = True\n"


# -- how many at once, results as they finish, leftovers -----------------------------------

# Touch my marker in a directory, then wait until `want` markers are there: passes only when
# `want` commands run at the same time (the deadline only ends a failing run).
TOGETHER = (
    "import pathlib, sys, time\n"
    "here, name, want = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])\n"
    "(here / name).touch()\n"
    "deadline = time.monotonic() + 60\n"
    "while time.monotonic() < deadline:\n"
    "    if len(list(here.iterdir())) >= want:\n"
    "        sys.exit(0)\n"
    "    time.sleep(0.02)\n"
    "sys.exit(1)\n"
)

# Mark myself running, note how many run now, stay a moment, unmark: the most seen at once.
COUNTED = (
    "import os, pathlib, sys, time\n"
    "running, seen, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]\n"
    "(running / name).touch()\n"
    "(seen / name).write_text(str(len(list(running.iterdir()))))\n"
    "time.sleep(0.3)\n"
    "(running / name).unlink()\n"
)


def python(tmp_path: Path, name: str, text: str, *args: object) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return " ".join([PY, shlex.quote(str(path)), *(shlex.quote(str(a)) for a in args)])


def test_all_run_at_once_by_default_on_any_number_of_cores(
    project: Project, tmp_path: Path
) -> None:
    """Twelve at once (more than the cores): each passes only when all twelve run together,
    and each checks its worktree is complete and clean (checkouts made side by side)."""
    here = tmp_path / "here"
    here.mkdir()
    check = 'test -e feature.py && test -z "$(git status --porcelain)" && '
    specs = [
        spec(f"v{i}", check + python(tmp_path, "together", TOGETHER, here, f"v{i}", 12))
        for i in range(12)
    ]
    outcomes = run_all(
        repo(project), specs, tag=TAG, sha=project.head(), version="1.4.0-rc.1", progress=Progress()
    )
    assert [(o.name, o.passed, o.detail) for o in outcomes] == [
        (f"v{i}", True, "exit 0") for i in range(12)
    ]
    assert only_main_worktree(project)
    assert not list((project.root / ".git" / "worktrees").glob("*"))


def test_jobs_bounds_how_many_run_at_once(project: Project, tmp_path: Path) -> None:
    running, seen = tmp_path / "running", tmp_path / "seen"
    running.mkdir()
    seen.mkdir()
    specs = [
        spec(f"v{i}", python(tmp_path, "counted", COUNTED, running, seen, f"v{i}"))
        for i in range(5)
    ]
    progress = Progress()
    outcomes = run_all(
        repo(project),
        specs,
        tag=TAG,
        sha=project.head(),
        version="1.4.0-rc.1",
        progress=progress,
        jobs=2,
    )
    assert all(o.passed for o in outcomes)
    most = max(int(f.read_text()) for f in seen.iterdir())
    assert len(list(seen.iterdir())) == 5 and 1 <= most <= 2
    queued = [name for name, what, _ in progress.seen if what == "queued"]
    assert queued == ["v2", "v3", "v4"]
    # Two that must run together still do with two slots.
    here = tmp_path / "here"
    here.mkdir()
    pair = [spec(n, python(tmp_path, "together", TOGETHER, here, n, 2)) for n in ("a", "b")]
    outcomes = run_all(
        repo(project), pair, tag=TAG, sha=project.head(), version="x", progress=Progress(), jobs=2
    )
    assert [o.passed for o in outcomes] == [True, True]


def test_each_result_is_handed_over_as_soon_as_it_is_known(
    project: Project, tmp_path: Path
) -> None:
    """`slow` passes only if `fast`'s result was handed to on_done while `slow` still ran."""
    handed = tmp_path / "handed-fast"
    wait = (
        f"for i in $(seq 600); do test -e {shlex.quote(str(handed))} && exit 0; sleep 0.1; done; "
        "exit 1"
    )
    got: list[str] = []

    def on_done(o: Any) -> None:
        got.append(o.name)
        if o.name == "fast":
            handed.touch()

    outcomes = run_all(
        repo(project),
        [spec("slow", wait), spec("fast", "true")],
        tag=TAG,
        sha=project.head(),
        version="1.4.0-rc.1",
        progress=Progress(),
        on_done=on_done,
    )
    assert [(o.name, o.passed) for o in outcomes] == [("slow", True), ("fast", True)]
    assert got == ["fast", "slow"]
    assert only_main_worktree(project)


def test_a_result_that_cannot_be_recorded_stops_the_others(
    project: Project, tmp_path: Path
) -> None:
    pid = tmp_path / "slow.pid"
    slow = f"echo $$ > {shlex.quote(str(pid))}; exec sleep 600"
    queued = tmp_path / "queued-ran"

    def on_done(o: Any) -> None:
        raise RuntimeError(f"the ledger refused {o.name}")

    with pytest.raises(RuntimeError, match="the ledger refused fast"):
        run_all(
            repo(project),
            [
                spec("slow", slow),
                # Waits for slow to be running, so that it is killed, not never started.
                spec("fast", f"while ! test -s {shlex.quote(str(pid))}; do sleep 0.05; done"),
                spec("later", f"touch {shlex.quote(str(queued))}"),
            ],
            tag=TAG,
            sha=project.head(),
            version="1.4.0-rc.1",
            progress=Progress(),
            jobs=2,
            on_done=on_done,
        )
    assert not alive(int(pid.read_text()))
    assert not queued.exists()  # not started after the failure
    assert only_main_worktree(project)


def test_worktrees_a_killed_run_left_are_removed_by_the_next(project: Project) -> None:
    work = project.root / ".git" / "rcflow" / "worktrees"
    old = work / "v1.4.0-rc.0-gone"  # another RC, a validation no longer configured
    half = work / f"{TAG}-unit"
    project.git("worktree", "add", "--detach", str(old), first_commit(project))
    project.git("worktree", "add", "--detach", str(half), first_commit(project))
    # Killed inside `worktree add`: git leaves the entry locked ("initializing").
    project.git("worktree", "lock", "--reason", "initializing", str(half))

    [outcome] = run_all(
        repo(project),
        [spec("unit", "test -e feature.py")],
        tag=TAG,
        sha=project.head(),
        version="1.4.0-rc.1",
        progress=Progress(),
    )

    assert (outcome.passed, outcome.detail) == (True, "exit 0")
    assert only_main_worktree(project)
    assert list(work.iterdir()) == []
    assert not list((project.root / ".git" / "worktrees").glob("*"))


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
