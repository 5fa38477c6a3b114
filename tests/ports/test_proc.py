"""ports.proc.run_parallel: the read path's batch of processes, read all at once."""

from __future__ import annotations

import sys
from pathlib import Path

from rcflow.ports import proc

# Writes 1 MiB (far beyond a pipe's buffer), then a marker file, then exits.
_WRITER = (
    "import sys; sys.stdout.write('x' * (1 << 20)); sys.stdout.flush(); open(sys.argv[1], 'w')"
)
# Waits for the marker (at most 60 s: a failure, not a hang), echoes its input, exits.
_WAITER = (
    "import os, sys, time\n"
    "for _ in range(600):\n"
    "    if os.path.exists(sys.argv[1]): break\n"
    "    time.sleep(0.1)\n"
    "else: sys.exit('no marker')\n"
    "sys.stdout.write(sys.stdin.read()); sys.stderr.write('said')\n"
)


def test_every_pipe_is_drained_while_the_others_run(tmp_path: Path) -> None:
    """The first process waits for the second, whose output outgrows its pipe: read one after
    another, the second would wait to be read and never finish (the first gives up)."""
    marker = str(tmp_path / "marker")
    big_input = "line\n" * 100_000  # beyond a pipe's buffer too
    waiter = proc.Call((sys.executable, "-c", _WAITER, marker), big_input)
    writer = proc.Call((sys.executable, "-c", _WRITER, marker))

    first, second = proc.run_parallel([waiter, writer])

    assert (first.returncode, first.stdout, first.stderr) == (0, big_input, "said")
    assert (second.returncode, len(second.stdout), second.stderr) == (0, 1 << 20, "")


def test_no_input_and_empty_input_and_a_failure(tmp_path: Path) -> None:
    calls = [
        proc.Call((sys.executable, "-c", "import sys; print(sys.stdin.read() == '')")),
        proc.Call((sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"), ""),
        proc.Call((sys.executable, "-c", "import sys; sys.exit('bad')"), "ignored\n" * 50_000),
    ]
    results = proc.run_parallel(calls)
    assert [r.stdout for r in results] == ["True\n", "''\n", ""]
    assert (results[2].returncode, results[2].stderr) == (1, "bad\n")
