"""Crash injection for whole rcflow processes: a git shim on PATH and a GitHub test server that
kill the run's process group before or after any write, and the facts a converged run must share
with an uninterrupted twin.

How a crash is modelled: rcflow runs as a subprocess in a new session, so its process group is
rcflow and every git it started; SIGKILL of that group is what a crashed machine or a killed CI
container leaves behind (no `finally`, no lease given back, a git possibly half way). The shim
(`git-shim.sh`) counts as a write every git call that is not on its read-only allow-list, so a
write rcflow adds later (the local forge moving onto a git ref included) is a crash point without
anyone editing a list. HTTP writes to the GitHub test server (POST/PATCH/PUT/DELETE) are counted
in the same sequence, on the server's side.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ghserver import GitHubServer

SHIM = Path(__file__).with_name("git-shim.sh")
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")

# Commits and tags made by any run get the same dates, so an interrupted-then-resumed history and
# its uninterrupted twin can be compared commit for commit (the ledger's events carry wall-clock
# times in their JSON and are compared by kind and key instead).
FIXED_DATES = {
    "GIT_AUTHOR_DATE": "2026-03-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-03-01T12:00:00+00:00",
}


def real_git() -> str:
    found = shutil.which("git")
    assert found is not None, "git is not on PATH"
    return found


# Read when the tests are collected: the tests' hermetic fixture clears every RCFLOW_ variable.
_POINTS = os.environ.get("RCFLOW_CHAOS_POINTS", "")
REPORT = os.environ.get("RCFLOW_CHAOS_REPORT", "")


def points(default: int = 20) -> int:
    """How many random crash points per step: RCFLOW_CHAOS_POINTS raises it for runs by hand."""
    return max(default, int(_POINTS or 0))


@dataclass(frozen=True)
class Crash:
    """Where to kill a run: before/after the nth write, or `delay` seconds into the nth git call."""

    mode: str  # "before" | "after" | "random"
    n: int
    delay: float = 0.0

    def line(self) -> str:
        return f"{self.mode} {self.n} {self.delay:.3f}\n"

    def __str__(self) -> str:
        if self.mode == "random":
            return f"SIGKILL {self.delay * 1000:.0f} ms into git call {self.n}"
        return f"crash {self.mode} write {self.n}"


@dataclass
class Run:
    """One rcflow process: its exit, output and every git call / HTTP write it made, in order."""

    args: tuple[str, ...]
    exit_code: int  # -9 when killed
    stdout: str
    stderr: str
    log: list[tuple[str, str]]  # (kind, what): R/W/O a git call (O: objects only), H HTTP
    crashed: str  # the shim's or server's note of where it killed the run ("" when it did not)

    @property
    def killed(self) -> bool:
        return self.exit_code == -signal.SIGKILL

    @property
    def writes(self) -> list[str]:
        return [what for kind, what in self.log if kind in "WH"]

    @property
    def git_calls(self) -> int:
        return sum(1 for kind, _ in self.log if kind in "RWO")

    def describe(self) -> str:
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-3:]
        return f"rcflow {' '.join(self.args)} → exit {self.exit_code}: " + " | ".join(tail)


def _log_write(chaos_dir: Path, kind: str, what: str) -> tuple[int, str]:
    """Append to the run's log under the shim's lock; the write's number and the crash mode."""
    with (chaos_dir / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        counter = chaos_dir / "writes"
        number = int(counter.read_text() if counter.exists() else "0") + 1
        counter.write_text(f"{number}\n")
        with (chaos_dir / "log").open("a", encoding="utf-8") as log:
            log.write(f"{kind}\t{what}\0")
    mode_file = chaos_dir / "mode"
    mode = mode_file.read_text(encoding="utf-8") if mode_file.exists() else ""
    return number, mode


def _kill_group(chaos_dir: Path, why: str) -> None:
    for _ in range(500):
        if (chaos_dir / "pgid").exists():
            break
        time.sleep(0.01)
    pgid = int((chaos_dir / "pgid").read_text(encoding="utf-8"))
    assert pgid != os.getpgrp(), "refusing to kill the test's own process group"
    (chaos_dir / "crashed").write_text(why + "\n", encoding="utf-8")
    os.killpg(pgid, signal.SIGKILL)


class ChaosGitHubServer(GitHubServer):
    """The GitHub test server, counting its writes into the running rcflow's chaos log and
    killing that run before or after the write the crash names (after: the write is done but
    its answer never arrives)."""

    chaos_dir: Path | None = None
    # What a repository's forge holds: saved and loaded per copy of a prepared world, so one
    # server (one URL, committed in rcflow.toml) serves every copy in turn.
    STATE = (
        "releases",
        "issues",
        "rulesets",
        "workflows",
        "runs",
        "check_runs",
        "statuses",
        "status_steps",
        "tags",
        "branches",
        "refused",
        "_latest_id",
        "_ids",
        "_seq",
    )

    def save(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy({name: getattr(self, name) for name in self.STATE})

    def load(self, state: Mapping[str, Any], git_dir: Path) -> None:
        with self._lock:
            for name, value in copy.deepcopy(dict(state)).items():
                setattr(self, name, value)
            self.git_dir = git_dir

    def _answer(self, op: Any, call: Any, canonical: str, rel: str, errors: list[str]) -> Any:
        chaos_dir = self.chaos_dir
        if chaos_dir is None or call.method not in WRITE_METHODS:
            return super()._answer(op, call, canonical, rel, errors)
        number, mode = _log_write(chaos_dir, "H", f"{call.method} {rel}")
        parts = mode.split()
        hit = len(parts) >= 2 and parts[0] in ("before", "after") and int(parts[1]) == number
        if hit and parts[0] == "before":
            _kill_group(chaos_dir, f"before write {number}: {call.method} {rel}")
        reply = super()._answer(op, call, canonical, rel, errors)
        if hit and parts[0] == "after":
            _kill_group(chaos_dir, f"after write {number}: {call.method} {rel}")
        return reply


@dataclass
class Harness:
    """Runs rcflow under the shim. `work` holds the shim's directory and one log dir per run."""

    work: Path
    server: ChaosGitHubServer | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    _runs: int = 0

    def __post_init__(self) -> None:
        self.bin = self.work / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        shim = self.bin / "git"
        if not shim.exists():
            shim.symlink_to(SHIM)
        self.real_git = real_git()

    def run(self, root: Path, *args: str, crash: Crash | None = None) -> Run:
        """rcflow `args` in `root` as a subprocess; killed where `crash` says, if it gets there."""
        self._runs += 1
        chaos_dir = self.work / f"run{self._runs}"
        while chaos_dir.exists():
            self._runs += 1
            chaos_dir = self.work / f"run{self._runs}"
        chaos_dir.mkdir()
        (chaos_dir / "log").touch()
        if crash is not None:
            (chaos_dir / "mode").write_text(crash.line(), encoding="utf-8")
        env = {
            **os.environ,
            **FIXED_DATES,
            **self.env,
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "RCFLOW_CHAOS_DIR": str(chaos_dir),
            "RCFLOW_CHAOS_REAL_GIT": self.real_git,
        }
        if self.server is not None:
            self.server.chaos_dir = chaos_dir
        try:
            code = _zygote().run(
                list(args), root, env, chaos_dir / "stdout", chaos_dir / "stderr", chaos_dir
            )
        finally:
            if self.server is not None:
                self.server.chaos_dir = None
        out = (chaos_dir / "stdout").read_text(encoding="utf-8", errors="replace")
        err = (chaos_dir / "stderr").read_text(encoding="utf-8", errors="replace")
        # A random crash's killer may still be asleep when the run ended by itself; let it go
        # off (into the empty group) before the next run can reuse anything.
        if crash is not None and crash.mode == "random" and code != -signal.SIGKILL:
            time.sleep(crash.delay)
        log = [
            (record[0], record[2:])
            for record in (chaos_dir / "log").read_text(encoding="utf-8").split("\0")
            if record
        ]
        crashed_file = chaos_dir / "crashed"
        crashed = crashed_file.read_text(encoding="utf-8").strip() if crashed_file.exists() else ""
        return Run(tuple(args), code, out, err, log, crashed)


class _Zygote:
    """The fork server (zygote.py) of this test process, started on first use."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("zygote.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> None:
        """End of input ends the server; waited for, so no process outlives the tests."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the rcflow fork server died"
        return json.loads(line)  # type: ignore[no-any-return]

    def run(
        self,
        args: list[str],
        cwd: Path,
        env: Mapping[str, str],
        out: Path,
        err: Path,
        chaos_dir: Path,
    ) -> int:
        request = {"args": args, "cwd": str(cwd), "env": dict(env)}
        request.update(out=str(out), err=str(err))
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        pid = int(self._answer()["pid"])
        # The child is its own session leader: its pid is its process group, the crash's target.
        (chaos_dir / "pgid.tmp").write_text(str(pid), encoding="utf-8")
        (chaos_dir / "pgid.tmp").rename(chaos_dir / "pgid")
        timer = threading.Timer(180, _kill_quietly, (pid,))
        timer.start()
        try:
            return int(self._answer()["status"])
        finally:
            timer.cancel()


def _kill_quietly(pgid: int) -> None:
    """A hung run (a bug) is killed so the test fails instead of blocking the suite."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


_ZYGOTE: _Zygote | None = None


def _zygote() -> _Zygote:
    global _ZYGOTE
    if _ZYGOTE is None or _ZYGOTE.proc.poll() is not None:
        _ZYGOTE = _Zygote()
        atexit.register(_ZYGOTE.stop)
    return _ZYGOTE


def random_crashes(seed: str, twin: Run, count: int) -> list[Crash]:
    """`count` seeded SIGKILL points: a git call of the twin's run, and a delay into it (up to
    50 ms: most git calls here take 2-20 ms, so some land inside a call and some after it)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible points, not secrets
    return [
        Crash("random", rng.randint(1, twin.git_calls), round(rng.uniform(0.0, 0.05), 3))
        for _ in range(count)
    ]


def write_crashes(twin: Run) -> list[Crash]:
    """Before and after each of the twin's writes, in the order they happened."""
    n = len(twin.writes)
    return [Crash(mode, k) for k in range(1, n + 1) for mode in ("before", "after")]


# -- facts a converged run shares with its twin ------------------------------------------------


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=check, capture_output=True, text=True
    ).stdout.strip()


def _history(repo: Path, rev: str) -> list[str]:
    """A commit by what it is, not by its sha: first-parent chain of (tree, subject)."""
    out = _git(repo, "log", "--first-parent", "--format=%T %s", rev)
    return out.splitlines()


def ledger_events(repo: Path, ref: str = "refs/rcflow/ledger") -> list[dict[str, Any]]:
    if not _git(repo, "rev-parse", "-q", "--verify", ref, check=False):
        return []
    out = _git(repo, "log", "--reverse", "--format=%B%x1e", ref)
    events = []
    for record in out.split("\x1e"):
        record = record.strip()
        if record:
            events.append(json.loads(record.split("\n\n", 1)[1]))
    return events


def origin_facts(origin: Path) -> dict[str, Any]:
    """The remote, normalised: branches and tags by history, tag messages, other refs by name,
    the version file on main, and the ledger's events (lease events aside) by kind and key."""
    refs = _git(origin, "for-each-ref", "--format=%(refname) %(objecttype)").splitlines()
    facts: dict[str, Any] = {"refs": {}, "tag_messages": {}}
    for line in refs:
        name, objtype = line.split()
        if name.startswith(("refs/heads/", "refs/tags/")):
            facts["refs"][name] = _history(origin, f"{name}^{{commit}}")[:6]
            if objtype == "tag":
                body = _git(origin, "cat-file", "tag", name).split("\n\n", 1)[-1]
                facts["tag_messages"][name] = body
        else:
            facts["refs"][name] = "present"
    facts["pyproject"] = _git(origin, "show", "refs/heads/main:pyproject.toml", check=False)
    facts["ledger"] = [
        (e["kind"], e["key"])
        for e in ledger_events(origin)
        # A refused or crashed attempt's `step_failed` is its audit trail, not an outcome.
        if not e["kind"].startswith("lease_") and e["kind"] != "step_failed"
    ]
    return facts


def clone_facts(root: Path) -> dict[str, Any]:
    """The clone that finished the step: in step with the remote, nothing left lying around."""
    head = _git(root, "rev-parse", "HEAD")
    upstream = _git(root, "rev-parse", "-q", "--verify", "refs/remotes/origin/main", check=False)
    return {
        "dirty": _git(root, "status", "--porcelain", "--untracked-files=no"),
        "head": _history(root, "HEAD")[:6],
        "head_is_origin_main": head == _git(root, "ls-remote", "origin", "refs/heads/main")[:40],
        "tracking_current": upstream == head,
        "tags": sorted(_git(root, "tag", "--list").splitlines()),
    }


def forge_facts(root: Path) -> dict[str, Any]:
    """Releases as the configured forge shows them to this clone, through rcflow's own port (so
    this keeps working wherever a forge keeps its records)."""
    from rcflow.commands import run as commands

    ctx = commands.load_context(root)
    return {
        tag: {
            "title": r.title,
            "prerelease": r.prerelease,
            "retracted": r.retracted,
            "draft": r.draft,
            "latest": r.latest,
            "notes": r.notes,
            "assets": sorted((a.name, a.size, a.sha256) for a in r.assets),
        }
        for tag, r in ctx.forge.releases().items()
    }


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 70 else text[:70] + "…"


def diff(expected: Any, got: Any, where: str = "") -> list[str]:
    """What differs, one short phrase each: missing/extra list items and keys, changed values."""
    if expected == got:
        return []
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        out = []
        for key in sorted(set(expected) | set(got), key=str):
            name = f"{where}.{key}" if where else str(key)
            if key not in got:
                out.append(f"{name} missing")
            elif key not in expected:
                out.append(f"{name} extra {_short(got[key])}")
            else:
                out += diff(expected[key], got[key], name)
        return out
    if isinstance(expected, list) and isinstance(got, list):
        missing = [x for x in expected if x not in got]
        extra = [x for x in got if x not in expected]
        if missing or extra:
            return [f"{where} missing {_short(missing)} extra {_short(extra)}"]
        return [f"{where} order {_short(got)}"]
    return [f"{where} {_short(expected)} → {_short(got)}"]


def copy_tree(src: Path, dest: Path) -> None:
    """A prepared position, copied: the origin and its clone, the clone's remote re-pointed."""
    shutil.copytree(src, dest, symlinks=True)
    work = dest / "work"
    if work.exists():
        _git(work, "remote", "set-url", "origin", str(dest / "origin.git"))


def fresh_clone(origin: Path, dest: Path) -> Path:
    _git(origin.parent, "clone", "--quiet", str(origin), str(dest))
    return dest


def write_hook(origin: Path, rules: Path, message: str) -> None:
    """A pre-receive hook on the bare origin, driven by `rules` (a missing file allows all).

    Each line of `rules` is a ref prefix (`refs/tags/`, `refs/heads/main`, `refs/rcflow/`) whose
    updates are refused, or `second-push`: let a run's first push through, refuse the next ones
    (counted in `rules`.count: delete it to start counting again). The refusal prints `message`,
    which names no ref: naming the refused ref is rcflow's job."""
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f"rules='{rules}'\n"
        f"message='{message}'\n"
        '[ -f "$rules" ] || { cat >/dev/null; exit 0; }\n'
        'if grep -qx second-push "$rules"; then\n'
        '    n=$(cat "$rules.count" 2>/dev/null || echo 0); echo $((n + 1)) >"$rules.count"\n'
        '    [ "$n" -ge 1 ] && { cat >/dev/null; echo "$message" >&2; exit 1; }\n'
        "fi\n"
        "while read -r old new ref; do\n"
        "    while read -r prefix; do\n"
        '        [ "$prefix" = second-push ] && continue\n'
        '        case $ref in "$prefix"*) echo "$message" >&2; exit 1 ;; esac\n'
        '    done <"$rules"\n'
        "done\n"
        "exit 0\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)


__all__: Sequence[str] = (
    "FIXED_DATES",
    "ChaosGitHubServer",
    "Crash",
    "Harness",
    "Run",
    "clone_facts",
    "copy_tree",
    "diff",
    "forge_facts",
    "fresh_clone",
    "ledger_events",
    "origin_facts",
    "points",
    "random_crashes",
    "write_crashes",
    "write_hook",
)
