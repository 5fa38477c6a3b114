"""The console entry point (`rcflow`, `python -m rcflow`).

`rcflow status`, `rcflow log` and `rcflow doctor` are what people and scripts run most — often in
a loop while a release is in flight, or on a schedule — so their plain forms are answered without
loading the command-line parser, which costs more than the git commands behind a status (DESIGN
§13); so is `rcflow --version`. Everything else, `--help` included, goes to the typer app in
`rcflow.cli.app`.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rcflow.errors import Interrupted

if TYPE_CHECKING:
    from rcflow.cli.guard import Options

# Answered by `rcflow.cli.guard` without the parser (imported once the collector is off).
_READ_ONLY = ("status", "log", "doctor")


def _read_only(args: Sequence[str]) -> tuple[str, Options] | None:
    """`status`/`log`/`doctor` with only --json and -C PATH, in any order; None otherwise."""
    from pathlib import Path

    from rcflow.cli.guard import Options

    command = None
    opts = Options()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--json":
            opts.json = True
        elif arg == "-C" and i + 1 < len(args) and opts.path is None:
            opts.path = Path(args[i + 1])
            i += 1
        elif arg in _READ_ONLY and command is None:
            command = arg
        else:
            return None
        i += 1
    return (command, opts) if command else None


def _log_options(args: Sequence[str]) -> tuple[Options, dict[str, Any]] | None:
    """`log` with --all, --oldest-first, --limit N besides --json and -C; None for anything
    else (a bad --limit: typer says why, exit 2)."""
    rest: list[str] = []
    options: dict[str, Any] = {}
    it = iter(args)
    for arg in it:
        if arg in ("--all", "--oldest-first"):
            key = "all_events" if arg == "--all" else "oldest_first"
            if key in options:
                return None
            options[key] = True
        elif arg in ("--limit", "-n") or arg.startswith("--limit="):
            value = arg.partition("=")[2] if "=" in arg else next(it, "")
            if "limit" in options or not value.isdigit() or int(value) < 1:
                return None
            options["limit"] = int(value)
        else:
            rest.append(arg)
    quick = _read_only(rest)
    if quick is None or quick[0] != "log":
        return None
    return quick[1], options


def main(argv: Sequence[str] | None = None) -> int:
    # A status on 2,000 tags allocates a few hundred thousand objects, imports included, and
    # frees them by reference counting; the cyclic collector's passes over them cost 5-10 ms of
    # its run (issue 14, item 5) and find nothing worth collecting. The read-only commands run
    # without it; a step, long and threaded, gets it back before the command line is parsed.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main(sys.argv[1:] if argv is None else argv, collecting)
    finally:
        if collecting:
            gc.enable()


def _main(argv: Sequence[str], collecting: bool) -> int:
    from rcflow.ports.proc import handle_signals

    # SIGINT and SIGTERM stop running commands, release the lease, exit 130 / 143 (`proc`).
    handle_signals()
    args = list(argv)
    if args == ["--version"]:  # what the parser's eager option prints, without the parser
        from rcflow import __version__
        from rcflow.cli.output import show_version

        show_version(f"rcflow {__version__}")
        return 0
    try:
        if "log" in args:  # `log`'s own options: the same quick path
            quick_log = _log_options(args)
            if quick_log is not None:
                from rcflow.cli.guard import show_log

                opts, options = quick_log
                return show_log(opts, **options)
        quick = _read_only(args)
        if quick is not None:
            from rcflow.cli.guard import show_doctor, show_log, show_status

            command, opts = quick
            show = {"status": show_status, "log": show_log, "doctor": show_doctor}[command]
            return show(opts)
        if collecting:
            gc.enable()
        from rcflow.cli.app import main as full

        return full(args)
    except KeyboardInterrupt as exc:  # before or after a command's own handling (`guard`)
        return exc.exit_code if isinstance(exc, Interrupted) else 130
