"""The console entry point (`rcflow`, `python -m rcflow`).

`rcflow status`, `rcflow log` and `rcflow doctor` are what people and scripts run most — often in
a loop while a release is in flight, or on a schedule — so their plain forms are answered without
loading the command-line parser, which costs more than the git commands behind a status (DESIGN
§13). Everything else, `--help` included, goes to the typer app in `rcflow.cli.app`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rcflow.cli.guard import Options, show_doctor, show_log, show_status
from rcflow.errors import Interrupted
from rcflow.ports.proc import handle_signals

_READ_ONLY = {"status": show_status, "log": show_log, "doctor": show_doctor}


def _read_only(args: Sequence[str]) -> tuple[str, Options] | None:
    """`status`/`log`/`doctor` with only --json and -C PATH, in any order; None otherwise."""
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


def main(argv: Sequence[str] | None = None) -> int:
    # SIGINT and SIGTERM stop running commands, release the lease, exit 130 / 143 (`proc`).
    handle_signals()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args.count("--all") == 1 and "log" in args:  # `log --all`: the same quick path
            rest = [a for a in args if a != "--all"]
            quick_log = _read_only(rest)
            if quick_log is not None and quick_log[0] == "log":
                return show_log(quick_log[1], all_events=True)
        quick = _read_only(args)
        if quick is not None:
            command, opts = quick
            return _READ_ONLY[command](opts)
        from rcflow.cli.app import main as full

        return full(args)
    except KeyboardInterrupt as exc:  # before or after a command's own handling (`guard`)
        return exc.exit_code if isinstance(exc, Interrupted) else 130
