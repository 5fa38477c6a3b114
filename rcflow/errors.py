"""The few error types rcflow raises, each carrying its exit code.

The CLI maps them to exit codes in one place (`cli.main`); everything below raises.
"""

from __future__ import annotations

import os
from enum import IntEnum

from rcflow.lazy_re import lazy


class ExitCode(IntEnum):
    OK = 0  # success, including "already done"
    FAILED = 1  # an effect or a required validation failed
    USAGE = 2  # bad arguments or configuration
    BLOCKED = 3  # a precondition or preflight check refused the step
    CONFLICT = 4  # the world disagrees with the plan, or another run holds the lease
    INTERRUPTED = 130  # SIGINT (128 + 2), what a shell reports for Ctrl-C
    TERMINATED = 143  # SIGTERM (128 + 15), what a cancelled CI job sends


class RcflowError(Exception):
    """Base: a message for humans, an optional hint (what to run next)."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, untouched: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # Raised before anything was changed: there is nothing to resume, only to re-plan.
        self.untouched = untouched


class UsageError(RcflowError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """Invalid rcflow.toml / [tool.rcflow]; the message names the file and key."""


class VersionError(UsageError):
    """A version that cannot be parsed, rendered or accepted as a target."""


class VersionFileError(UsageError):
    """A version file that cannot be read or updated as configured."""


class BlockedError(RcflowError):
    """One or more preconditions refuse the step; nothing was changed."""

    exit_code = ExitCode.BLOCKED

    def __init__(self, message: str, *, blockers: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.blockers = blockers


class ConflictError(RcflowError):
    """The world contradicts the plan (a tag at another commit, a moved ref)."""

    exit_code = ExitCode.CONFLICT


class LeaseHeldError(ConflictError):
    """Another live run holds the release lease."""


class EffectError(RcflowError):
    """An effect failed while applying; what was done so far is in the ledger."""

    exit_code = ExitCode.FAILED


class CommandError(RcflowError):
    """A subprocess failed; carries its argv (never its environment) and output."""

    def __init__(self, argv: tuple[str, ...], returncode: int, stdout: str, stderr: str) -> None:
        cause = command_cause(stderr or stdout) or f"exit status {returncode}"
        super().__init__(f"{argv[0]} {argv[1] if len(argv) > 1 else ''}".strip() + f": {cause}")
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: raised in the main thread by `proc`'s signal handler.

    A KeyboardInterrupt, so that no `except Exception` swallows it on its way out.
    """

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum


class StoppedError(RcflowError):
    """How an interrupted run is reported: the signal, and what became of the running commands."""

    def __init__(self, message: str, *, signum: int, hint: str | None = None) -> None:
        import signal

        super().__init__(message, hint=hint)
        self.exit_code = ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED


_LOCK = lazy(r"Unable to create '([^']+\.lock)': File exists")


def command_cause(text: str) -> str:
    """The cause in a command's error output, in one line: git's `fatal:`/`error:` lines.

    Not just the last line: git ends many errors with advice ("remove the file manually to
    continue.") and the cause (which file, which ref) is above it. A lock file left behind is
    named, with what to do about it.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    causes = [
        line
        for line in lines
        if line.startswith(("fatal:", "error:")) and "failed to push some refs" not in line
    ]
    picked = list(dict.fromkeys(causes)) or lines[-1:]
    cause = "; ".join(picked)
    lock = _LOCK.search(text)
    if lock is not None:
        path = os.path.normpath(lock.group(1))
        cause = (
            f"{path} exists: another git process is running there, or one was killed and left "
            "it (if none is running, delete that file)"
        )
    return cause
