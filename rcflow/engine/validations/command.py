"""Command validations: each `[[validate]] run = ...` in its own clean worktree of the RC commit.

They run in parallel — all at once, or `validate_jobs` at a time — each with its timeout; output
goes to a log kept per RC under the git dir, so a failure can be read after the fact and nothing
is left in the maintainer's work tree. Each result is handed to `on_done` as soon as it is known
(the handler records it then), so an interrupted run keeps what already finished.
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
from pathlib import Path
from typing import Any

from rcflow.model.effects import ValidationSpec
from rcflow.ports import proc
from rcflow.ports.git import Repository
from rcflow.record import dataclass, field

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


class _Batch:
    """The commands of one `run_all`: cancelled together when a result cannot be recorded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen[bytes]] = set()
        self.error: BaseException | None = None

    def started(self, p: subprocess.Popen[bytes]) -> None:
        with self.lock:
            self.running.add(p)
            cancelled = self.error is not None
        if cancelled:
            proc.kill_group(p)

    def ended(self, p: subprocess.Popen[bytes]) -> None:
        with self.lock:
            self.running.discard(p)

    def cancel(self, error: BaseException) -> None:
        """Keep the first error; kill this batch's running commands (not another's)."""
        with self.lock:
            if self.error is None:
                self.error = error
            running = list(self.running)
        for p in running:
            proc.kill_group(p)


def _run_one(
    git: Repository,
    spec: ValidationSpec,
    tree: Path,
    tag: str,
    sha: str,
    version: str,
    log: Path,
    progress: Progress,
    batch: _Batch,
) -> Outcome | None:
    """Run spec in a new worktree at tree (the caller removes it); None when the batch was
    cancelled meanwhile: no verdict."""
    start = time.monotonic()
    progress(spec.name, "started", f"in a worktree of {sha[:7]}")
    try:
        if tree.exists():  # left by a run that was killed (run_all clears them first)
            with contextlib.suppress(Exception):
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
    p = proc.start_shell(spec.run, cwd=tree, env=env, log_path=log)
    batch.started(p)
    try:
        code = proc.wait(p, spec.timeout)
        detail = f"exit {code}"
        passed = code == 0
    except subprocess.TimeoutExpired:
        detail = f"timed out after {spec.timeout:g}s"
        passed = False
    finally:
        batch.ended(p)
    if batch.error is not None:
        return None  # killed because another result could not be recorded
    stopped = proc.stopping()
    if stopped is not None:
        # rcflow is stopping: whatever the command answered, it is no verdict on the RC.
        detail = f"by {signal.Signals(stopped).name}"
        progress(spec.name, "stopped", detail)
        return Outcome(spec.name, False, 0.0, detail, str(log), spec.required)
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
    if tree.exists():
        git.worktree_remove(tree)
    git.worktree_add(tree, sha)
    try:
        yield tree
    finally:
        with contextlib.suppress(Exception):
            git.worktree_remove(tree)


def run_all(
    git: Repository,
    specs: Sequence[ValidationSpec],
    *,
    tag: str,
    sha: str,
    version: str,
    progress: Progress,
    jobs: int | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run every spec against sha, `jobs` at a time (None: all at once); results in the order of
    specs. `on_done` gets each result in its worker thread as soon as it is known; when it
    raises, the batch's other commands are killed, none starts, and run_all raises that error.
    """
    if not specs:
        return []
    logs = git.git_dir / "rcflow" / "logs" / _safe(tag)
    work = git.git_dir / "rcflow" / "worktrees"
    logs.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(git, work)
    slots = min(len(specs), jobs or len(specs))
    for spec in specs[slots:]:
        progress(spec.name, "queued", f"until a slot frees ({slots} run at a time)")
    batch = _Batch()

    def one(spec: ValidationSpec) -> Outcome | None:
        if batch.error is not None:
            return None
        tree = work / f"{_safe(tag)}-{_safe(spec.name)}"
        log = logs / f"{_safe(spec.name)}.log"
        try:
            outcome = _run_one(git, spec, tree, tag, sha, version, log, progress, batch)
            # Recorded before the worktree goes: the result is what a stopped run must keep.
            # Once rcflow is stopping nothing more is recorded: the lease release comes next.
            if outcome is not None and on_done is not None and proc.stopping() is None:
                try:
                    on_done(outcome)
                except BaseException as exc:
                    batch.cancel(exc)
            return outcome
        finally:
            # Also after a signal (the pool waits for this); after a SIGKILL, the next run_all.
            with contextlib.suppress(Exception):
                git.worktree_remove(tree)

    pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="rcflow-validate")
    try:
        futures = [pool.submit(one, spec) for spec in specs]
        # Waited for in short slices: a signal the kernel hands to a worker thread only runs its
        # handler once the main thread is back in Python, which a lock wait without a timeout
        # never is (and the validations would run to their end).
        while wait_for(futures, timeout=proc.SIGNAL_POLL).not_done:
            pass
        if batch.error is not None:
            raise batch.error
        return [o for f in futures if (o := f.result()) is not None]
    except KeyboardInterrupt:
        # SIGINT or SIGTERM in the main thread: the commands get the signal, their grace, then
        # SIGKILL, so the workers waiting on them return and nothing outlives rcflow.
        proc.stop_commands()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _clear_leftovers(git: Repository, work: Path) -> None:
    """Remove the worktrees a killed run left (SIGKILL, a crash): only the run holding the
    release lease makes worktrees here, so whatever is here when it starts is nobody's."""
    for leftover in sorted(work.iterdir()):
        with contextlib.suppress(Exception):
            git.worktree_remove(leftover)
