"""Chaos: every mutating step, killed before and after each of its writes and at seeded random
moments, then run again from the same clone and from a fresh `git clone` of the origin, ends
where an uninterrupted twin ends; and a remote whose hooks refuse a push leaves every clone
agreeing until the hook is gone, then the step converges.

Positions (idle, bumped, candidate, validated, released) are prepared once per worker and
copied for each crash point; the twin of each step is run once per worker, through the same
shim, and its write count is what the crash points are enumerated from.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rcflow.cli.app import app
from tests.support.chaos import (
    FIXED_DATES,
    REPORT,
    ChaosGitHubServer,
    Crash,
    Harness,
    Run,
    clone_facts,
    copy_tree,
    diff,
    forge_facts,
    fresh_clone,
    origin_facts,
    points,
    random_crashes,
    write_crashes,
    write_hook,
)
from tests.support.project import Project

# Assets make rc and promote build in a worktree, upload, download and carry: more writes.
CONFIG = (
    "[assets]\n"
    'files = ["dist/*"]\n'
    'build = "mkdir -p dist && echo demo $RCFLOW_VERSION > dist/demo.txt"\n'
)


@dataclass(frozen=True)
class Step:
    name: str
    start: str  # the position it starts from
    args: tuple[str, ...]


STEPS = {
    s.name: s
    for s in (
        Step("bump", "idle", ("bump",)),
        Step("rc", "bumped", ("rc",)),
        Step("validate", "candidate", ("validate",)),
        Step("promote", "validated", ("promote",)),
        Step("rollback-release", "released", ("rollback",)),
        Step("rollback-release-named", "released", ("rollback", "v1.4.0")),
        Step("rollback-rc", "candidate", ("rollback",)),
        Step("rollback-rc-named", "candidate", ("rollback", "v1.4.0-rc.1")),
        Step("rollback-bump", "bumped", ("rollback",)),
        Step("rollback-bump-named", "bumped", ("rollback", "1.4.0")),
    )
}
POSITIONS = ("idle", "bumped", "candidate", "validated", "released")
_STEP_TO = {"bumped": "bump", "candidate": "rc", "validated": "validate", "released": "promote"}

# Scenarios that fail on the current code, each with its one-line symptom (issue 11). Keys are
# (step, resume); "*" stands for every step. A test whose failures are all listed here is an
# expected failure; any other failure fails it; an entry that stops failing is warned about.
KNOWN: dict[tuple[str, str], str] = {}


# -- per-worker positions and twins ------------------------------------------------------------


def cli(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args, "-C", str(root)], catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += f"\n{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.stdout, stderr


def status(root: Path) -> dict[str, Any]:
    code, out, err = cli(root, "status", "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def status_view(root: Path) -> dict[str, Any]:
    s = status(root)
    return {k: s.get(k) for k in ("state", "version", "target", "tag", "rc", "problems")}


@dataclass
class Twin:
    run: Run
    facts: dict[str, Any]


class World:
    """This worker's prepared positions and twins, built on first use. With a GitHub test server
    as the forge, each copy of a position has its own saved server state, loaded by `use`."""

    def __init__(self, base: Path, server: ChaosGitHubServer | None = None) -> None:
        self.base = base
        self.server = server
        self.positions: dict[str, Path] = {}
        self.twins: dict[str, Twin] = {}
        self.states: dict[Path, dict[str, Any]] = {}
        self.count = 0

    def use(self, dest: Path) -> None:
        if self.server is not None:
            self.server.load(self.states[dest], dest / "origin.git")

    def keep(self, dest: Path) -> None:
        if self.server is not None:
            self.states[dest] = self.server.save()

    def copy_tree(self, src: Path, dest: Path) -> None:
        copy_tree(src, dest)
        if self.server is not None:
            self.states[dest] = self.states[src]

    def cli(self, dest: Path, root: Path, *args: str) -> tuple[int, str, str]:
        self.use(dest)
        try:
            return cli(root, *args)
        finally:
            self.keep(dest)

    def run(self, dest: Path, args: tuple[str, ...], crash: Crash | None = None) -> Run:
        self.use(dest)
        try:
            return Harness(dest / "shim", self.server).run(dest / "work", *args, crash=crash)
        finally:
            self.keep(dest)

    def facts(self, dest: Path, root: Path) -> dict[str, Any]:
        self.use(dest)
        return facts(dest / "origin.git", root)

    def position(self, name: str) -> Path:
        if name not in self.positions:
            dest = self.base / f"pos-{name}"
            if name == "idle":
                dest.mkdir()
                config = CONFIG
                if self.server is not None:
                    self.states[dest] = self.server.save()
                    config = (
                        f'forge = "github"\ngithub_repository = "{self.server.full_name}"\n'
                        f'github_api_url = "{self.server.base_url}"\n' + CONFIG
                    )
                    self.server.load(self.states[dest], dest / "origin.git")
                Project(dest).create(config=config)
            else:
                previous = POSITIONS[POSITIONS.index(name) - 1]
                self.copy_tree(self.position(previous), dest)
                code, _, err = self.cli(dest, dest / "work", _STEP_TO[name])
                assert code == 0, err
            self.positions[name] = dest
        return self.positions[name]

    def scratch(self, label: str) -> Path:
        self.count += 1
        return self.base / f"{label}-{self.count}"

    def discard(self, *dests: Path) -> None:
        for dest in dests:
            shutil.rmtree(dest, ignore_errors=True)
            self.states.pop(dest, None)

    def copy(self, step: Step, label: str) -> Path:
        dest = self.scratch(label)
        self.copy_tree(self.position(step.start), dest)
        return dest

    def twin(self, step: Step) -> Twin:
        if step.name not in self.twins:
            dest = self.copy(step, f"twin-{step.name}")
            run = self.run(dest, step.args)
            assert run.exit_code == 0, run.describe()
            self.twins[step.name] = Twin(run, self.facts(dest, dest / "work"))
        return self.twins[step.name]


_WORLDS: dict[Path, World] = {}


def _world(base: Path, monkeypatch: pytest.MonkeyPatch, github: bool) -> Iterator[World]:
    for key, value in FIXED_DATES.items():
        monkeypatch.setenv(key, value)
    if base not in _WORLDS:
        base.mkdir(exist_ok=True)
        _WORLDS[base] = World(base, ChaosGitHubServer().start() if github else None)
    world = _WORLDS[base]
    server = world.server
    seen = 0
    if server is not None:
        monkeypatch.setenv("GITHUB_TOKEN", server.token)
        seen = len(server.mismatches)
    yield world
    if server is not None:
        assert server.mismatches[seen:] == [], "the GitHub test server saw requests GitHub refuses"


@pytest.fixture
def world(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    yield from _world(tmp_path_factory.getbasetemp() / "chaos", monkeypatch, github=False)


@pytest.fixture
def github_world(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    yield from _world(tmp_path_factory.getbasetemp() / "chaos-github", monkeypatch, github=True)


def facts(origin: Path, root: Path) -> dict[str, Any]:
    return {
        "origin": origin_facts(origin),
        "clone": clone_facts(root),
        "forge": forge_facts(root),
        "status": status_view(root),
    }


def mismatch(world: World, twin: Twin, dest: Path, root: Path) -> str:
    """'' when the clone that finished and its origin look exactly like the twin's."""
    return "; ".join(diff(twin.facts, world.facts(dest, root)))


RESUMES = ("same", "fresh")


def crash_then_resume(world: World, step: Step, crash: Crash) -> dict[str, str]:
    """Crash the step, then run it again from the same clone and, on a copy of the crashed
    world, from a fresh clone: resume kind -> one-line symptom, for those that did not converge."""
    twin = world.twin(step)
    dest = world.copy(step, step.name)
    crashed = world.run(dest, step.args, crash)
    if crash.mode != "random" and not crashed.killed:
        return {r: f"the crash never fired ({crashed.describe()})" for r in RESUMES}
    other = world.scratch(f"{step.name}-fresh")
    world.copy_tree(dest, other)
    symptoms = {}
    for resume, base in zip(RESUMES, (dest, other), strict=True):
        root = base / "work" if resume == "same" else fresh_clone(base / "origin.git", base / "f")
        code, out, err = world.cli(base, root, *step.args)
        locks = _killed_locks(crash, base, err)
        if code != 0 and locks:
            # A SIGKILL inside git left its ref locks (on a local-path origin the receiving git
            # is in the killed group too; an atomic push holds one per ref). rcflow stops with
            # the locks' paths and "delete": do as it says, once, and the run must then converge
            # like any other.
            for lock in locks:
                lock.unlink()
            code, out, err = world.cli(base, root, *step.args)
        if code != 0:
            tail = " | ".join((err.strip() or out.strip()).splitlines()[-3:])
            symptoms[resume] = f"resume exit {code}: {tail}"
        else:
            symptom = mismatch(world, twin, base, root)
            if symptom:
                symptoms[resume] = symptom
    if not symptoms:  # kept for a look when it did not converge
        world.discard(dest, other)
    return symptoms


_LOCK = re.compile(r"(/[^\s,]+?\.lock)")


def _killed_locks(crash: Crash, base: Path, err: str) -> list[Path]:
    """The git lock files a random SIGKILL left in this world, when rcflow's error names them
    and tells the user to delete them; none otherwise (then the failure counts as it is)."""
    if crash.mode != "random" or "stale lock" not in err or "delete" not in err:
        return []
    locks = {Path(m) for m in _LOCK.findall(err)}
    return [lock for lock in locks if lock.is_relative_to(base) and lock.is_file()]


def to_report(lines: list[str]) -> None:
    """Append to the file RCFLOW_CHAOS_REPORT names: every failure of a run, for a closing note."""
    if REPORT and lines:
        with open(REPORT, "a", encoding="utf-8") as fh:
            fh.writelines(f"{line}\n" for line in lines)


def check_all(
    world: World,
    runs: list[tuple[Step, list[Crash]]],
    what: str,
    known: dict[tuple[str, str], str] | None = None,
) -> None:
    """Every crash point, both resumes. A failure of a (step, resume) listed in KNOWN makes the
    test an expected failure; any other fails it; a KNOWN entry that no longer fails is named."""
    lines = []
    expected = []
    for step, crashes in runs:
        failures: dict[str, list[str]] = {r: [] for r in RESUMES}
        for crash in crashes:
            for resume, symptom in crash_then_resume(world, step, crash).items():
                failures[resume].append(f"{crash}: {symptom}")
        for resume in RESUMES:
            found = failures[resume]
            table = KNOWN if known is None else known
            named = table.get((step.name, resume))
            reason = named or table.get(("*", resume))
            if found:
                report = (
                    f"{step.name}, resumed from the {resume} clone: {len(found)} of "
                    f"{len(crashes)} {what} points did not converge:\n  " + "\n  ".join(found)
                )
                (expected if reason else lines).append(report)
            elif named:
                # A wildcard entry stands for a rare, timing-dependent failure: passing once
                # says nothing, so only a named entry that no longer fails is reported.
                warnings.warn(
                    f"KNOWN[{step.name!r}, {resume!r}] no longer fails ({what}): remove it",
                    stacklevel=1,
                )
    to_report(lines + expected)
    assert not lines, "\n".join(lines + expected)
    if expected:
        pytest.xfail("issue 11, known: " + "\n".join(expected))


# -- crash before and after every write --------------------------------------------------------


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("step", list(STEPS))
def test_crash_before_and_after_every_write_converges(world: World, step: str, phase: str) -> None:
    twin = world.twin(STEPS[step])
    crashes = [c for c in write_crashes(twin.run) if c.mode == phase]
    # at least a push and the local copy of each ref it moved (a retraction on the local forge
    # is one push: the lease, the decision, the forge's commit and the release together)
    assert len(crashes) >= 3, twin.run.writes
    check_all(world, [(STEPS[step], crashes)], f"crash {phase} write")


# As KNOWN, for the random SIGKILLs (which also land inside a git call).
KNOWN_RANDOM: dict[tuple[str, str], str] = {
    **KNOWN,
    # Seen once in about 60 points per run, never when the same test ran again: a SIGKILL a few
    # ms into a git call, resumed from the same clone, left it unconverged. Timing-dependent;
    # the fresh-clone resume stays strict.
    ("*", "same"): "a rare, timing-dependent non-convergence after a SIGKILL inside a git call",
}
# As KNOWN, with the GitHub test server as the forge.
KNOWN_GITHUB: dict[tuple[str, str], str] = {}
GITHUB_STEPS = ("rc", "promote", "rollback-release", "rollback-rc")


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("step", GITHUB_STEPS)
def test_github_crash_before_and_after_every_write_converges(
    github_world: World, step: str, phase: str
) -> None:
    """With the GitHub test server as the forge: its HTTP writes are crash points too."""
    twin = github_world.twin(STEPS[step])
    assert any(w.startswith(("POST", "PATCH", "DELETE")) for w in twin.run.writes), twin.run.log
    crashes = [c for c in write_crashes(twin.run) if c.mode == phase]
    check_all(github_world, [(STEPS[step], crashes)], f"GitHub crash {phase} write", KNOWN_GITHUB)


RANDOM_STEPS = ("bump", "rc", "validate", "promote", "rollback")


@pytest.mark.parametrize("step", RANDOM_STEPS)
def test_random_sigkill_converges(world: World, step: str) -> None:
    """Seeded SIGKILLs; a rollback's points are spread over its six kinds."""
    kinds = [s for s in STEPS if s == step or s.startswith(f"{step}-")]
    rng = random.Random(f"rollback kinds {step}")  # noqa: S311 - reproducible, not secret
    count = points()
    chosen = [kinds[0]] * count if len(kinds) == 1 else [rng.choice(kinds) for _ in range(count)]
    runs = [
        (STEPS[kind], random_crashes(kind, world.twin(STEPS[kind]).run, chosen.count(kind)))
        for kind in sorted(set(chosen))
    ]
    check_all(world, runs, "random SIGKILL", KNOWN_RANDOM)


# -- a remote whose hooks refuse a push --------------------------------------------------------

HOOK_MESSAGE = "policy: protected by the release policy"
RULES = {
    "tags": ("refs/tags/", ("v1.4.0",)),
    "branch": ("refs/heads/main", ("refs/heads/main", "main ", "main:", " main")),
    "ledger": ("refs/rcflow/", ("refs/rcflow/ledger",)),
    "second-push": ("second-push", ("v1.4.0", "main", "refs/rcflow/ledger")),
}
HOOK_STEPS = (
    "bump",
    "rc",
    "validate",
    "promote",
    "rollback-release",
    "rollback-rc",
    "rollback-bump",
)
# (step, rule) -> the one-line symptom on the current code (issue 11).
_LOCAL_ONLY = (
    "while the remote refuses, the clone that made the local {what} shows {here} (the problem "
    "listed there) where a fresh clone shows {there}; both converge once the hook is gone"
)
KNOWN_HOOKS: dict[tuple[str, str], str] = {
    ("bump", "branch"): _LOCAL_ONLY.format(what="bump commit", here="bumped", there="idle"),
    ("bump", "second-push"): _LOCAL_ONLY.format(what="bump commit", here="bumped", there="idle"),
    ("rc", "tags"): _LOCAL_ONLY.format(what="RC tag", here="candidate", there="bumped"),
    ("rc", "second-push"): _LOCAL_ONLY.format(what="RC tag", here="candidate", there="bumped"),
}


def _hook_params() -> list[Any]:
    params = []
    for step in HOOK_STEPS:
        for rule in RULES:
            reason = KNOWN_HOOKS.get((step, rule)) or KNOWN_HOOKS.get((step, "*"))
            marks = [pytest.mark.xfail(strict=False, reason=f"issue 11: {reason}")]
            if not reason:
                marks = []
            params.append(pytest.param(step, rule, id=f"{step}-{rule}", marks=marks))
    return params


@pytest.mark.parametrize(("step", "rule"), _hook_params())
def test_a_refusing_hook_fails_cleanly_then_the_step_converges(
    world: World, step: str, rule: str
) -> None:
    s = STEPS[step]
    twin = world.twin(s)
    dest = world.copy(s, f"hook-{step}-{rule}")
    origin, root = dest / "origin.git", dest / "work"
    rules = dest / "rules"
    write_hook(origin, rules, HOOK_MESSAGE)
    prefix, names = RULES[rule]
    rules.write_text(prefix + "\n", encoding="utf-8")

    # A process of its own: when it leaves a lease it could not give back, its pid is gone, as
    # for any real run (in this process the lease would look held by a live run).
    refused = world.run(dest, s.args)
    code, err = refused.exit_code, refused.stderr

    problems = []
    if code != 0:
        # What the failure printed: from its first warning or error on (the ✓ lines before it
        # are the effects that were done).
        lines = [line for line in err.splitlines() if line.strip()]
        first = next(
            (i for i, line in enumerate(lines) if not line.startswith(("✓", "·", "Plan", "  "))),
            0,
        )
        lines = lines[first:]
        if code not in (1, 4):
            problems.append(f"exit {code}")
        if "Traceback" in err:
            problems.append("a traceback")
        # One line says what failed; the rest is the CLI's fixed frame (the hint, the state and
        # the resume command), or the note that a refused ledger also kept the lease.
        errors = [line for line in lines if line.startswith("error:")]
        frame = ("error:", "  hint:", "  state:", "could not release the lease")
        if len(errors) != 1 or not all(line.startswith(frame) for line in lines):
            problems.append(f"{len(errors)} error lines in {len(lines)}")
        if HOOK_MESSAGE not in err:
            problems.append("no hook message")
        if not any(name in err for name in names):
            problems.append("no ref named")
        here = status_view(root)
        there = status_view(fresh_clone(origin, dest / "fresh"))
        if here != there:
            problems.append("status differs from a fresh clone's: " + ", ".join(diff(there, here)))
        if problems:
            problems.append("stderr: " + " | ".join(lines)[:300])
        rules.unlink()
        code, out, err = cli(root, *s.args)
        if code != 0:
            tail = " | ".join((err.strip() or out.strip()).splitlines()[-2:])
            problems.append(f"once the hook is gone the re-run exits {code}: {tail}")
    if code == 0:
        symptom = mismatch(world, twin, dest, root)
        if symptom:
            problems.append(f"not converged: {symptom}")
    if problems:
        to_report([f"hook {step}-{rule}: " + "; ".join(problems)])
    assert not problems, "; ".join(problems)


# -- the harness itself ------------------------------------------------------------------------

SHIM_CASES = [
    ("status --porcelain", "R"),
    ("-C /x -c a.b=c log -1", "R"),
    ("cat-file --batch", "R"),
    ("config --get remote.origin.url", "R"),
    ("config user.name", "R"),
    ("config user.name X", "W"),
    ("config --unset user.name", "W"),
    ("tag --list", "R"),
    ("tag", "R"),
    ("tag --annotate -m msg v1 abc", "W"),
    ("tag --delete v1", "W"),
    ("branch --show-current", "R"),
    ("branch --set-upstream-to=origin/main", "W"),
    ("hash-object x", "R"),
    ("hash-object -w x", "O"),
    ("worktree list", "R"),
    ("worktree add --detach /x abc", "W"),
    ("remote get-url origin", "R"),
    ("remote set-url origin /x", "W"),
    ("symbolic-ref HEAD", "R"),
    ("symbolic-ref HEAD refs/heads/x", "W"),
    ("update-index --refresh", "W"),
    ("read-tree abc", "W"),
    ("mktree", "O"),
    ("write-tree", "O"),
    ("commit-tree abc -m x", "O"),
    ("fetch origin", "W"),
    ("fetch --quiet --no-tags --no-write-fetch-head --refmap= origin abc", "O"),
    ("some-future-command", "W"),
]


def test_the_shim_counts_every_call_off_its_read_only_list_as_a_write(tmp_path: Path) -> None:
    """Objects-only calls (O) are writes nobody can observe: no crash points of their own."""
    harness = Harness(tmp_path / "shim")
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    env = {
        **os.environ,
        "RCFLOW_CHAOS_DIR": str(log_dir),
        "RCFLOW_CHAOS_REAL_GIT": "/bin/true",
    }
    for argv, _ in SHIM_CASES:
        subprocess.run([str(harness.bin / "git"), *argv.split()], env=env, check=True)
    kinds = [record[0] for record in (log_dir / "log").read_text().split("\0") if record]
    assert list(zip([a for a, _ in SHIM_CASES], kinds, strict=True)) == [
        (a, k) for a, k in SHIM_CASES
    ]


def test_the_shim_sees_gitpythons_calls_and_kills_before_or_after_the_write(world: World) -> None:
    step = STEPS["bump"]
    writes = world.twin(step).run.writes
    # add and commit go through GitPython, the pushes through `git push`: all are seen.
    first = next(i for i, w in enumerate(writes) if w.startswith("add"))
    assert [w.split()[0] for w in writes[first : first + 3]] == ["add", "commit", "push"], writes
    push = writes.index(next(w for w in writes[first:] if w.startswith("push"))) + 1
    main = "refs/heads/main"
    before = origin_facts(world.position("idle") / "origin.git")["refs"][main]
    for mode, pushed in (("before", False), ("after", True)):
        dest = world.copy(step, f"shim-{mode}")
        run = world.run(dest, step.args, Crash(mode, push))
        assert run.killed, run.describe()
        assert run.crashed.startswith(f"{mode} write {push}: git push"), run.crashed
        facts = origin_facts(dest / "origin.git")
        assert (facts["refs"][main] != before) is pushed, facts
        # `bumped` rides with the branch (one atomic push): recorded exactly when it landed
        assert facts["ledger"] == ([("bumped", "1.4.0")] if pushed else []), facts
