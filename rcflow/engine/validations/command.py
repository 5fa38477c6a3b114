"""Command validations: each `[[validate]] run = ...` in its own clean worktree of the RC commit.

They run in parallel, each with its timeout; output goes to a log kept per RC under the git dir,
so a failure can be read after the fact and nothing is left in the maintainer's work tree.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcflow.model.effects import ValidationSpec
from rcflow.ports import proc
from rcflow.ports.git import Repository

# git's worktree bookkeeping (.git/worktrees) is not safe against concurrent add/remove; the
# commands themselves run in parallel, only their checkouts are made one at a time.
_WORKTREES = threading.Lock()

Progress = Callable[[str, str, str], None]  # (validation name, what happened, detail)


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    duration: float
    detail: str  # "exit 0", "exit 3", "timed out after 600s", "could not start: ..."
    log: str  # path of the log file ("" when the validation ran elsewhere: GitHub)
    required: bool
    kind: str = "command"  # "command" | "workflow" | "checks"
    url: str | None = None  # the workflow run, the check's page
    conclusion: str | None = None  # "success", "failure", "cancelled", "timed_out", ...
    facts: Mapping[str, Any] = field(default_factory=dict)  # more for the ledger event


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _run_one(
    git: Repository,
    spec: ValidationSpec,
    tag: str,
    sha: str,
    version: str,
    logs: Path,
    work: Path,
    progress: Progress,
) -> Outcome:
    log = logs / f"{_safe(spec.name)}.log"
    tree = work / f"{_safe(tag)}-{_safe(spec.name)}"
    start = time.monotonic()
    progress(spec.name, "started", f"in a worktree of {sha[:7]}")
    try:
        with _WORKTREES:
            if tree.exists():
                git.worktree_remove(tree)
            git.worktree_add(tree, sha)
    except Exception as exc:  # a worktree that cannot be made fails this validation only
        detail = f"could not check out {sha[:7]}: {exc}"
        progress(spec.name, "failed", detail)
        return Outcome(spec.name, False, 0.0, detail, str(log), spec.required)
    env = {
        "RCFLOW_TAG": tag,
        "RCFLOW_SHA": sha,
        "RCFLOW_VERSION": version,
        "CI": os.environ.get("CI", ""),
    }
    try:
        p = proc.start_shell(spec.run, cwd=tree, env=env, log_path=log)
        try:
            code = proc.wait(p, spec.timeout)
            detail = f"exit {code}"
            passed = code == 0
        except subprocess.TimeoutExpired:
            detail = f"timed out after {spec.timeout:g}s"
            passed = False
        stopped = proc.stopping()
        if stopped is not None:
            # rcflow is stopping: whatever the command answered, it is no verdict on the RC.
            detail = f"by {signal.Signals(stopped).name}"
            progress(spec.name, "stopped", detail)
            return Outcome(spec.name, False, 0.0, detail, str(log), spec.required)
    finally:
        # A leftover worktree is removed by the next run of the same validation.
        with contextlib.suppress(Exception), _WORKTREES:
            git.worktree_remove(tree)
    duration = time.monotonic() - start
    progress(spec.name, "passed" if passed else "failed", f"{detail} in {duration:.1f}s")
    return Outcome(spec.name, passed, round(duration, 3), detail, str(log), spec.required)


def run_once(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    timeout: float,
) -> tuple[bool, str]:
    """A configured command (a build, a hook) run to completion: (succeeded, "exit 0" …)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        p = proc.start_shell(command, cwd=cwd, env=env, log_path=log)
    except OSError as exc:
        return False, f"could not start: {exc.strerror or exc}"
    try:
        code = proc.wait(p, timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:g}s"
    return code == 0, f"exit {code}"


@contextlib.contextmanager
def worktree(git: Repository, name: str, sha: str) -> Iterator[Path]:
    """A clean, detached checkout of sha under the git dir, removed afterwards."""
    tree = git.git_dir / "rcflow" / "worktrees" / _safe(name)
    tree.parent.mkdir(parents=True, exist_ok=True)
    with _WORKTREES:
        if tree.exists():
            git.worktree_remove(tree)
        git.worktree_add(tree, sha)
    try:
        yield tree
    finally:
        with contextlib.suppress(Exception), _WORKTREES:
            git.worktree_remove(tree)


def run_all(
    git: Repository,
    specs: Sequence[ValidationSpec],
    *,
    tag: str,
    sha: str,
    version: str,
    progress: Progress,
) -> list[Outcome]:
    """Run every spec in parallel against sha; results in the order of specs."""
    if not specs:
        return []
    logs = git.git_dir / "rcflow" / "logs" / _safe(tag)
    work = git.git_dir / "rcflow" / "worktrees"
    logs.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(max_workers=min(len(specs), max(os.cpu_count() or 1, 2)))
    try:
        futures = [
            pool.submit(_run_one, git, spec, tag, sha, version, logs, work, progress)
            for spec in specs
        ]
        # Waited for in short slices: a signal the kernel hands to a worker thread only runs its
        # handler once the main thread is back in Python, which a lock wait without a timeout
        # never is (and the validations would run to their end).
        while wait_for(futures, timeout=proc.SIGNAL_POLL).not_done:
            pass
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        # SIGINT or SIGTERM in the main thread: the commands get the signal, their grace, then
        # SIGKILL, so the workers waiting on them return and nothing outlives rcflow.
        proc.stop_commands()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
