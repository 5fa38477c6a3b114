"""The one place rcflow starts subprocesses.

Always an argv list, never a shell string built by rcflow; a user's configured command string is
handed to the shell as one argument (`run_shell`), exactly as they wrote it.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import select
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, cast

from rcflow.errors import CommandError, Interrupted
from rcflow.record import dataclass, field


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> Result:
    """Run argv, capture text output; raise CommandError on failure when check is set."""
    full_env = None if env is None else {**os.environ, **env}
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )
    result = Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    if check and not result.ok:
        raise CommandError(result.argv, result.returncode, result.stdout, result.stderr)
    return result


@dataclass(frozen=True)
class Call:
    argv: tuple[str, ...]
    input: str | None = None


def run_parallel(
    calls: Sequence[Call], *, cwd: Path | str | None = None, env: Mapping[str, str] | None = None
) -> list[Result]:
    """Run independent read-only commands at once (the read path's latency is their maximum).

    Results come back in the order of calls; none is checked, the caller decides.
    """
    full_env = None if env is None else {**os.environ, **env}
    procs = [
        subprocess.Popen(
            list(call.argv),
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE if call.input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for call in calls
    ]
    outs = _drain(procs, [call.input for call in calls])
    results = []
    for call, p in zip(calls, procs, strict=True):
        p.wait()
        out, err = outs[p.stdout], outs[p.stderr]
        results.append(
            Result(
                call.argv,
                p.returncode,
                b"".join(out).decode("utf-8", errors="replace"),
                b"".join(err).decode("utf-8", errors="replace"),
            )
        )
    return results


def _drain(
    procs: Sequence[subprocess.Popen[bytes]], inputs: Sequence[str | None]
) -> dict[Any, list[bytes]]:
    """Feed every process its input and read all their pipes at once, by file object.

    Read one process after another, a process whose output outgrows the pipe's buffer (the refs
    of 2,000 tags, `ls-remote` of as many) stops until its turn comes: the batch would run one
    process at a time.
    """
    outs: dict[Any, list[bytes]] = {}
    with selectors.DefaultSelector() as sel:
        for p, text in zip(procs, inputs, strict=True):
            for pipe in (p.stdout, p.stderr):
                if pipe is not None:
                    sel.register(pipe, selectors.EVENT_READ, pipe)
                    outs[pipe] = []
            if p.stdin is not None:
                data = (text or "").encode()
                if data:
                    sel.register(p.stdin, selectors.EVENT_WRITE, (p.stdin, memoryview(data)))
                else:
                    p.stdin.close()
        while sel.get_map():
            for key, _ in sel.select():
                if not isinstance(key.data, tuple):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        outs[key.data].append(chunk)
                    else:
                        sel.unregister(key.fileobj)
                        key.data.close()
                    continue
                stdin, view = key.data
                try:
                    rest = view[os.write(key.fd, view[: select.PIPE_BUF]) :]
                except BrokenPipeError:  # it stopped reading (it failed): its output says why
                    rest = view[:0]
                if rest:
                    sel.modify(key.fileobj, selectors.EVENT_WRITE, (stdin, rest))
                else:
                    sel.unregister(key.fileobj)
                    stdin.close()
    return outs


def start_shell(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
) -> subprocess.Popen[bytes]:
    """Start a user's configured command through the shell, output streamed to log_path.

    The command string comes from the repository's own config, written by its maintainers;
    rcflow never interpolates anything into it.
    """
    log = log_path.open("wb")
    try:
        # Started under the lock that `stop_commands` takes: a command is either known to it
        # (and gets the signal) or not started at all once the run is stopping.
        with _lock:
            if _state.stopping is not None:
                raise Interrupted(_state.stopping)
            p = subprocess.Popen(  # noqa: S602 - configured command, run as its author wrote it
                command,
                shell=True,
                cwd=cwd,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session and process group: a terminal's Ctrl-C does not reach it
                # directly; rcflow forwards the signal to the whole group (`stop_commands`).
                start_new_session=True,
            )
            _commands.add(p)
        return p
    finally:
        log.close()


def wait(p: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for a started command; past its timeout its whole process group is killed.

    Interrupted meanwhile (a signal in the main thread), every running command is stopped before
    the interruption goes on, so none outlives rcflow.
    """
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(p)
        raise
    except KeyboardInterrupt:
        stop_commands()
        raise
    finally:
        if p.returncode is not None:
            with _lock:
                _commands.discard(p)


def kill_group(p: subprocess.Popen[bytes]) -> None:
    """SIGKILL a command and everything it started (its process group), and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    with _lock:
        _commands.discard(p)


# -- signals ---------------------------------------------------------------------------------
#
# SIGINT (Ctrl-C) and SIGTERM (a cancelled CI job, after its SIGINT) end a run the same way: the
# first one raises `Interrupted` in the main thread, the running commands (validations, the
# asset build, a hook) get that signal in their process groups and GRACE seconds to exit, then
# SIGKILL; the step's `finally` releases the lease and the CLI exits 128 + the signal. A second
# signal while stopping cuts the grace short (CI sends SIGTERM 7.5 s after SIGINT, SIGKILL 2.5 s
# later: the lease must be released within that) and is otherwise ignored, so that the clean-up
# itself is not interrupted.

GRACE = 10.0  # seconds a stopped command has to exit after the signal, before SIGKILL
# The longest the main thread waits in one go on threads: a signal delivered to another thread
# is only handled when the main thread returns to Python (see `validators.command.run_all`).
SIGNAL_POLL = 0.2


@dataclass
class _State:
    stopping: int | None = None  # the first signal received
    hurry: bool = False  # a second signal: no more grace
    deferred: int = 0  # depth of `deferred()` blocks in the main thread
    pending: int | None = None  # a signal that arrived inside one
    ended: list[str] = field(default_factory=list)  # "stopped" / "killed", per stopped command


_lock = threading.Lock()
_commands: set[subprocess.Popen[bytes]] = set()
_state = _State()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _state.stopping is not None:
        _state.hurry = True
        return
    _state.stopping = signum
    if _state.deferred:
        _state.pending = signum
        return
    raise Interrupted(signum)


def handle_signals() -> None:
    """Install the SIGINT and SIGTERM handlers (the console entry point, in its main thread)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Started with the signal ignored (nohup, a shell's background job): it stays ignored.
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _on_signal)


def stopping() -> int | None:
    """The signal this run is stopping for, or None."""
    return _state.stopping


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A block a signal does not cut in half (a ledger append: its push and the local tip).

    A signal that arrives meanwhile is raised when the block ends, instead of its own error if
    it failed (a push killed by the terminal's Ctrl-C, which reaches git's process group too).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.deferred += 1
    try:
        yield
    finally:
        _state.deferred -= 1
        if _state.pending is not None and not _state.deferred:
            signum, _state.pending = _state.pending, None
            raise Interrupted(signum)


def _group_alive(p: subprocess.Popen[bytes]) -> bool:
    p.poll()  # reap the leader, so that a zombie does not count
    try:
        os.killpg(p.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_commands(grace: float | None = None) -> list[str]:
    """Stop every running command: the signal to its process group, `grace` seconds, SIGKILL.

    Later commands are not started. Returns how each one ended, for the message.
    """
    # Without the handler (rcflow used as a library), an interrupt is Python's own SIGINT one.
    signum = _state.stopping or signal.SIGINT
    with _lock:
        if _state.stopping is None:
            _state.stopping = signum
        running = list(_commands)
    for p in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signum)
    deadline = time.monotonic() + (GRACE if grace is None else grace)
    alive = [p for p in running if _group_alive(p)]
    while alive and not _state.hurry and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _group_alive(p)]
    ended = []
    for p in running:
        if p in alive:
            kill_group(p)
        else:
            p.wait()
            with _lock:
                _commands.discard(p)
        ended.append("killed" if p in alive else "stopped")
    _state.ended += ended
    return ended


def hurried() -> bool:
    """A second signal cut the grace short."""
    return _state.hurry


def stopped_commands() -> list[str]:
    """How each command stopped by this run's interrupt ended: "stopped" or "killed"."""
    return list(_state.ended)


def stream(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    sep: str = "\0",
) -> Iterator[str]:
    """Run argv and yield its output's records (split at sep) as they arrive.

    Closing the iterator early stops the process: a reader that needs the first page of a long
    output (`rcflow log`) pays for that page, not for the whole of it. A failure is a
    CommandError once the output is read to its end.
    """
    import tempfile

    full_env = None if env is None else {**os.environ, **env}
    with tempfile.TemporaryFile() as errors:
        p = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        stdout = cast("io.BufferedReader", p.stdout)  # PIPE: never None
        try:
            pending = ""
            reader = _decoder()
            while chunk := stdout.read1(1 << 16):
                pending += reader.decode(chunk)
                *records, pending = pending.split(sep)
                yield from records
            pending += reader.decode(b"", final=True)
            if pending:
                yield pending
            if p.wait() != 0:
                errors.seek(0)
                stderr = errors.read().decode("utf-8", errors="replace")
                raise CommandError(tuple(argv), p.returncode, "", stderr)
        finally:
            if p.poll() is None:
                p.kill()
            stdout.close()
            p.wait()


def _decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


def start(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> Callable[[], Result]:
    """Start argv now (stdin closed, output captured); the returned function waits for it and
    gives its Result, as `run` does with check=False.

    A read the caller needs a little later runs while it does other work: `status` imports its
    configuration's modules while git finds the repository (DESIGN §13).
    """
    full_env = None if env is None else {**os.environ, **env}
    p = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def finish() -> Result:
        out, err = p.communicate()
        return Result(tuple(argv), p.returncode, _text(out), _text(err))

    return finish


def _text(data: bytes) -> str:
    """What `run`'s text mode reads: UTF-8 (errors replaced), universal newlines."""
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
