"""The one place rcflow starts subprocesses.

Always an argv list, never a shell string built by rcflow; a user's configured command string is
handed to the shell as one argument (`run_shell`), exactly as they wrote it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rcflow.errors import CommandError


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
    results = []
    for call, p in zip(calls, procs, strict=True):
        out, err = p.communicate(call.input.encode() if call.input is not None else None)
        results.append(
            Result(
                call.argv,
                p.returncode,
                out.decode("utf-8", errors="replace"),
                err.decode("utf-8", errors="replace"),
            )
        )
    return results


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
        return subprocess.Popen(  # noqa: S602 - configured command, run as its author wrote it
            command,
            shell=True,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
