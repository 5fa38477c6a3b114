"""ports.proc.run_parallel: the read path's batch of processes, read all at once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from rcflow.errors import CommandError
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


# -- the read path's processes start without `subprocess` (issue 14, item 5) ------------------


def _popen(argv: list[str], cwd: Path | None = None, input: str | None = None) -> tuple[Any, ...]:
    import subprocess

    done = subprocess.run(
        argv,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_git_in_a_directory_answers_as_popen_did(tmp_path: Path) -> None:
    """A directory is given to git as `-C`; the result still names the command as asked."""
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path / "r")], check=True)
    (tmp_path / "r" / "sub").mkdir()
    argv = ("git", "rev-parse", "--show-toplevel", "--show-prefix", "--absolute-git-dir")
    want = _popen(list(argv), cwd=tmp_path / "r" / "sub")
    ran = proc.run(argv, cwd=tmp_path / "r" / "sub")
    assert (ran.argv, (ran.returncode, ran.stdout, ran.stderr)) == (argv, want)
    started = proc.start(argv, cwd=tmp_path / "r" / "sub")()
    assert (started.argv, started.returncode, started.stdout) == (argv, *want[:2])
    [parallel] = proc.run_parallel([proc.Call(argv)], cwd=tmp_path / "r" / "sub")
    assert (parallel.argv, parallel.returncode, parallel.stdout) == (argv, *want[:2])
    failed = proc.run(("git", "rev-parse", "--show-toplevel"), cwd=tmp_path, check=False)
    assert failed.returncode == 128 and "not a git repository" in failed.stderr


def test_other_programs_run_in_their_directory(tmp_path: Path) -> None:
    here = proc.run((sys.executable, "-c", "import os; print(os.getcwd())"), cwd=tmp_path)
    assert here.stdout == f"{tmp_path}\n"
    [there] = proc.run_parallel(
        [proc.Call((sys.executable, "-c", "import os; print(os.getcwd())"))], cwd=tmp_path
    )
    assert there.stdout == f"{tmp_path}\n"


def test_text_input_exit_codes_and_signals_as_popen() -> None:
    script = (
        "import os, signal, sys\n"
        "data = sys.stdin.buffer.read()\n"
        "sys.stdout.buffer.write(data[:5] + b'\\r\\nb\\rc\\xff')\n"
        "sys.stderr.write(str(len(data)))\n"
        "if data.startswith(b'kill'): os.kill(os.getpid(), signal.SIGTERM)\n"
        "sys.exit(3)\n"
    )
    for text in ("héllo" * 100_000, "kill me", "", "\udcff"):
        argv = [sys.executable, "-c", script]
        ran = proc.run(argv, input=text, check=False)
        assert (ran.returncode, ran.stdout, ran.stderr) == _popen(argv, input=text), text[:9]
    with pytest.raises(CommandError):
        proc.run([sys.executable, "-c", "raise SystemExit(2)"])


def test_a_missing_program_is_an_oserror_as_before(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        proc.run(("no-such-program-rcflow",))
    with pytest.raises(FileNotFoundError):
        proc.start(("no-such-program-rcflow",))
    with pytest.raises(OSError):
        proc.run_parallel([proc.Call((sys.executable, "-c", "")), proc.Call(("no-such-x",), "a")])


def test_a_pipe_closed_on_a_child_ends_it_quietly() -> None:
    """The children get SIGPIPE's default back (Python ignores it), as Popen restores it."""
    ran = proc.run(("sh", "-c", "yes | head -c 1"))
    assert (ran.stdout, ran.stderr) == ("y", "")


def test_the_read_path_never_loads_subprocess(tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    code = (
        "import sys\n"
        "from rcflow.ports import proc\n"
        f"proc.run(('git', 'status'), cwd={str(tmp_path)!r})\n"
        f"proc.start(('git', 'status'), cwd={str(tmp_path)!r})()\n"
        f"proc.run_parallel([proc.Call(('git', 'status'), '')], cwd={str(tmp_path)!r})\n"
        "print(sorted({'subprocess', 'selectors', 'locale'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"


def test_an_interrupted_read_stops_its_process(tmp_path: Path) -> None:
    """SIGTERM while a command runs: `Interrupted` goes on, the command killed and reaped (as
    `subprocess.run` does), not left running."""
    import subprocess

    pidfile = tmp_path / "pid"
    code = (
        "import os, signal, sys, threading, time\n"
        "from rcflow.errors import Interrupted\n"
        "from rcflow.ports import proc\n"
        "proc.handle_signals()\n"
        "def later():\n"
        f"    while not os.path.exists({str(pidfile)!r}): time.sleep(0.01)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "threading.Thread(target=later, daemon=True).start()\n"
        "try:\n"
        f"    proc.run(('sh', '-c', 'echo $$ > {pidfile}; exec sleep 60'))\n"
        "except Interrupted as exc:\n"
        "    print('interrupted', exc.signum)\n"
        f"pid = int(open({str(pidfile)!r}).read())\n"
        "try:\n"
        "    os.kill(pid, 0)\n"
        "    print('still running')\n"
        "except ProcessLookupError:\n"
        "    print('gone')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=50, check=False
    )
    assert done.stdout.split() == ["interrupted", "15", "gone"], done.stderr
