"""Benchmark rcflow against a project's age: N past release cycles, M tags (issue 14).

Generates (once, cached under bench/.work/history-v2/) repositories with N past release cycles
(N = 50, 500, 2,000, 5,000 at 10,000 tags) and M tags (2,000, 10,000, 50,000 at 50 cycles), each
with a bare origin on disk. Their ledgers, tags and local-forge records are synthesised with
`git fast-import` from a template taken from a real bump → rc → validate → promote cycle, and the
bench first PROVES the synthesis equal to real ones: it runs a second real cycle and compares it,
event by event (kind, key, the data's keys), with the synthesised cycle of the same version.

Then, side by side in one run (medians of interleaved rounds; the spread is max-min):

- `rcflow status --json` against the raw git of its read path (bench_status.GIT_READS);
- `rcflow log --json` (the newest page) against `git log --max-count=50` of the ledger;
- each step (`bump minor`, `rc`, `validate`, `promote`) on a copy of the repository, against the
  raw git of its own effects plus one ledger append per effect (a commit, a push of the branch
  or tag, `git commit-tree` + `git push` of the ledger ref: each timed raw in that repository),
  with the number of `git push` processes the step ran; and the whole cycle. validate's own git
  is a worktree of the commit with its validation (`true`) run in it, and its floor counts its
  lease's append besides its one effect's (OWN_APPENDS says why);
- growth factors from 50 to 5,000 cycles (target <= 1.3x): medians of paired ratios, the two
  ends timed one after the other (status and log in alternating pairs, `--pairs`; the steps'
  cycles back to back in each round, every other round backwards); and from 2,000 to 50,000
  tags.

Usage: python bench/bench_history.py [--quick] [--runs N] [--step-runs N] [--pairs N]
                                     [--compare DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.bench_status import ENV, GIT_READS  # noqa: E402

# v2: the other packages' tags each on their own commit (see synthesise).
WORK = HERE / ".work" / "history-v2"
SYNTHESIS = "3: forge index.json, checkpoint format 2 with newest_promoted\n"
SHA = re.compile(r"\b[0-9a-f]{40}\b")
CONFIG = '[[validate]]\nname = "unit"\nrun = "true"\n'
STEPS = (("bump", ["bump", "minor"]), ("rc", ["rc"]), ("validate", ["validate"]))
STEPS += (("promote", ["promote"]),)


def git(cwd: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=input,
        env={**ENV, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def launcher() -> list[str]:
    script = Path(sys.executable).with_name("rcflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rcflow"]


def rcflow(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [*launcher(), *args],
        cwd=cwd,
        env={**os.environ, **ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"rcflow {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


# -- a real project and its cycle: the template --------------------------------------------------


def real_project(base: Path) -> Path:
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    git(base, "init", "--quiet", "--bare", "--initial-branch=main", "origin.git")
    git(base, "init", "--quiet", "--initial-branch=main", "repo")
    repo = base / "repo"
    git(repo, "remote", "add", "origin", str(base / "origin.git"))
    (repo / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.0.0"\n')
    (repo / "rcflow.toml").write_text(CONFIG)
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "feat: initial release")
    git(repo, "tag", "-a", "v1.0.0", "-m", "Release 1.0.0")
    git(repo, "push", "--quiet", "origin", "main", "v1.0.0")
    git(repo, "branch", "--quiet", "--set-upstream-to=origin/main")
    return repo


def real_cycle(repo: Path, n: int) -> None:
    (repo / f"feature_{n}.py").write_text(f"VALUE = {n}\n")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", f"feat: feature {n}")
    git(repo, "push", "--quiet")
    for _, args in STEPS:
        rcflow(repo, *args, "--yes")


@dataclass
class Template:
    """One real cycle (version 1.1.0 after 1.0.0): ledger messages, forge records, tag and
    commit messages, as text with the version and its shas to substitute."""

    ledger: list[str]
    forge: dict[str, str]
    rc_message: str
    final_message: str
    bump_message: str
    runs: tuple[str, ...] = ()  # the real cycle's run ids (hostname-pid-random)

    def cycle(self, i: int, version: str, previous: str) -> Template:
        def sub(text: str) -> str:
            text = text.replace("1.1.0", "\0").replace("1.0.0", previous).replace("\0", version)
            shas: dict[str, str] = {}
            for sha in SHA.findall(text):
                fake = hashlib.sha256(f"{i}:{sha}".encode()).hexdigest()[:40]
                shas.setdefault(sha, fake)
            for sha, fake in shas.items():
                text = text.replace(sha, fake)
            for k, run in enumerate(self.runs):
                text = text.replace(run, f"{_run_id(i)}-{k}")
            return text

        return Template(
            [sub(m) for m in self.ledger],
            {sub(k): sub(v) for k, v in self.forge.items()},
            sub(self.rc_message),
            sub(self.final_message),
            sub(self.bump_message),
            self.runs,
        )


def _run_id(i: int) -> str:
    return f"bench-{i:06x}"


def ledger_messages(repo: Path, since: str | None) -> list[str]:
    rev = f"{since}..refs/rcflow/ledger" if since else "refs/rcflow/ledger"
    out = git(repo, "log", "--reverse", "-z", "--format=%B", rev)
    return [m.strip() + "\n" for m in out.split("\0") if m.strip()]


def forge_files(repo: Path) -> dict[str, str]:
    names = git(repo, "ls-tree", "-r", "--name-only", "refs/rcflow/forge").split()
    return {n: git(repo, "cat-file", "blob", f"refs/rcflow/forge:{n}") for n in names}


def template_and_proof() -> Template:
    """The template from real cycle 1; then real cycle 2 against the template's cycle 2."""
    repo = real_project(WORK / "real")
    real_cycle(repo, 1)
    forge = forge_files(repo)
    template = Template(
        ledger=ledger_messages(repo, None),
        forge={k: v for k, v in forge.items() if k.startswith("releases/")},
        rc_message=git(repo, "tag", "-l", "--format=%(contents)", "v1.1.0-rc.1"),
        final_message=git(repo, "tag", "-l", "--format=%(contents)", "v1.1.0"),
        bump_message=git(repo, "log", "-1", "--format=%B", "v1.1.0"),
    )
    template.runs = tuple(
        dict.fromkeys(json.loads(m.split("\n\n", 1)[1])["run"] for m in template.ledger)
    )
    tip = git(repo, "rev-parse", "refs/rcflow/ledger").strip()
    real_cycle(repo, 2)
    real = ledger_messages(repo, tip)
    synthetic = template.cycle(2, "1.2.0", "1.1.0")
    got, want = [_shape(m) for m in synthetic.ledger], [_shape(m) for m in real]
    if got != want:
        raise SystemExit(f"synthesised cycle differs from a real one:\n{got}\n{want}")
    forge2 = {k: v for k, v in forge_files(repo).items() if "1.2.0" in k}
    if {k: sorted(json.loads(v)) for k, v in synthetic.forge.items()} != {
        k: sorted(json.loads(v)) for k, v in forge2.items()
    }:
        raise SystemExit("synthesised forge records differ from real ones")
    print(
        f"proof: a real cycle 2 and the synthesised one agree on {len(real)} ledger events "
        "(kind, key, data keys) and the forge's records (keys)"
    )
    return template


def _shape(message: str) -> tuple[str, str, tuple[str, ...]]:
    body = json.loads(message.split("\n\n", 1)[1])
    key = body["key"] if not body["kind"].startswith("lease_") else "<run>"
    return body["kind"], key, tuple(sorted(body["data"]))


# -- synthesis ----------------------------------------------------------------------------------


def version(i: int) -> str:
    """Cycle i's version: 1.1.0, 1.2.0, … (minor bumps, as `bump minor` makes them)."""
    return f"1.{i + 1}.0"


def synthesise(template: Template, cycles: int, tags: int) -> Path:
    """A repository with `cycles` past releases and `tags` tags, and its bare origin."""
    base = WORK / f"n{cycles}-m{tags}"
    repo, origin = base / "repo", base / "origin.git"
    ready = base / "ready"
    # A repository synthesised by an older bench (no forge index, no newest promotions in the
    # checkpoint) is made again: it is what this rcflow writes that is measured.
    if ready.exists() and ready.read_text() == SYNTHESIS:
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    git(base, "init", "--quiet", "--initial-branch=main", str(repo))
    out: list[bytes] = []
    stamp = 1_700_000_000

    def data(text: str) -> bytes:
        raw = text.encode()
        return f"data {len(raw)}\n".encode() + raw + b"\n"

    def commit(
        ref: str, mark: int, parent: int | None, message: str, files: dict[str, str]
    ) -> None:
        nonlocal stamp
        stamp += 1
        out.append(f"commit {ref}\nmark :{mark}\n".encode())
        out.append(f"committer Bench <bench@example.invalid> {stamp} +0000\n".encode())
        out.append(data(message))
        if parent:
            out.append(f"from :{parent}\n".encode())
        for path, text in files.items():
            out.append(f"M 100644 inline {path}\n".encode() + data(text))

    def pyproject(v: str) -> str:
        return f'[project]\nname = "demo"\nversion = "{v}"\n'

    commit(
        "refs/heads/main",
        1,
        None,
        "feat: initial release\n",
        {
            "pyproject.toml": pyproject("1.0.0"),
            "rcflow.toml": CONFIG,
        },
    )
    annotated = [("v1.0.0", 1, "Release 1.0.0\n")]
    mark, head, ledger_parent = 2, 1, None
    # A monorepo's other packages: each release tag on its own commit, as their bumps make
    # them. (Tags on a handful of commits made the small-N repositories cheaper to push to
    # than any real one: git's push walks every distinct tagged commit.)
    for k in range(max(tags - 1 - 2 * cycles, 0)):
        package, number = f"svc{k % 97}", k // 97
        commit(
            "refs/heads/main",
            mark,
            head,
            f"chore({package}): release {number}.0.0\n",
            {f"{package}/VERSION": f"{number}.0.0\n"},
        )
        annotated.append((f"{package}-{number}.0.0", mark, "Release\n"))
        head, mark = mark, mark + 1
    ledger: list[str] = []
    forge: dict[str, str] = {}
    for i in range(cycles):
        cycle = template.cycle(i, version(i), version(i - 1) if i else "1.0.0")
        commit("refs/heads/main", mark, head, f"feat: feature {i}\n", {"f.py": f"V = {i}\n"})
        commit(
            "refs/heads/main",
            mark + 1,
            mark,
            cycle.bump_message,
            {
                "pyproject.toml": pyproject(version(i)),
            },
        )
        head = mark + 1
        annotated.append((f"v{version(i)}-rc.1", head, cycle.rc_message))
        annotated.append((f"v{version(i)}", head, cycle.final_message))
        mark += 2
        ledger += cycle.ledger
        forge.update(cycle.forge)
    for message in ledger:
        commit("refs/rcflow/ledger", mark, ledger_parent, message, {})
        ledger_parent, mark = mark, mark + 1
    forge["latest"] = f"v{version(cycles - 1)}\n" if cycles else ""
    forge["index.json"] = _forge_index(forge)
    commit("refs/rcflow/forge", mark, None, "rcflow: forge\n", forge)
    mark += 1
    for name, target, message in annotated:
        out.append(f"tag {name}\nfrom :{target}\n".encode())
        out.append(f"tagger Bench <bench@example.invalid> {stamp} +0000\n".encode())
        out.append(data(message))
    out.append(b"done\n")
    subprocess.run(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=repo,
        input=b"".join(out),
        env=ENV,
        check=True,
    )
    if ledger:
        _checkpoint_tip(repo)
    git(repo, "reset", "--quiet", "--hard", "main")
    git(repo, "config", "user.name", "Bench")
    git(repo, "config", "user.email", "bench@example.invalid")
    git(base, "clone", "--quiet", "--mirror", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "fetch", "--quiet", "origin")
    git(repo, "branch", "--quiet", "--set-upstream-to=origin/main")
    for where in (repo, origin):
        git(where, "gc", "--quiet")
    ready.write_text(SYNTHESIS)
    return base


def _forge_index(files: dict[str, str]) -> str:
    """The forge's index, as this rcflow writes it with every write of the forge."""
    from rcflow.adapters.local_forge import RELEASES, blob_sha, index_text

    return index_text(
        {
            path: (blob_sha(text.encode("utf-8")), json.loads(text))
            for path, text in files.items()
            if path.startswith(RELEASES)
        }
    )


def _checkpoint_tip(repo: Path) -> None:
    """The tip's checkpoint, as this rcflow writes it with every append (a read takes the tip's
    only; the synthesised older commits carry none, which no read looks at)."""
    from rcflow.model.ledger import Event, checkpoint_json

    out = git(repo, "log", "--reverse", "-z", "--format=%H%x00%B", "refs/rcflow/ledger")
    fields = out.split("\0")
    events = []
    for sha, message in zip(fields[0:-1:2], fields[1::2], strict=True):
        event = Event.from_message(sha, message.strip())
        if event is not None:
            events.append(event)
    tip, parent = events[-1].id, events[-2].id if len(events) > 1 else None
    blob = git(
        repo,
        "hash-object",
        "-w",
        "--stdin",
        input=checkpoint_json(events[:-1], tag_prefix="v", rc_token="rc"),  # noqa: S106
    ).strip()
    tree = git(repo, "mktree", input=f"100644 blob {blob}\tcheckpoint.json\n").strip()
    message = git(repo, "log", "-1", "--format=%B", tip)
    stamp = git(repo, "log", "-1", "--format=%ct", tip).strip()
    args = ["commit-tree", tree, "-m", message.strip() + "\n", *(["-p", parent] if parent else [])]
    env = {"GIT_COMMITTER_DATE": f"{stamp} +0000", "GIT_AUTHOR_DATE": f"{stamp} +0000"}
    sha = git(repo, *args, env=env).strip()
    git(repo, "update-ref", "refs/rcflow/ledger", sha)


# -- timing ---------------------------------------------------------------------------------


PUSH_SHIM = """#!/bin/sh
for a in "$@"; do
    case $a in
        push) echo push >> "$RCFLOW_BENCH_PUSHES"; break;;
        -*|*=*) ;;
        *) break;;
    esac
done
exec {git} "$@"
"""


@dataclass
class Samples:
    times: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.times.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def spread(self, name: str) -> float:
        s = self.times[name]
        return max(s) - min(s)


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        list(argv), cwd=cwd, env={**os.environ, **ENV, **(env or {})}, capture_output=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-300:]
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {tail}")
    return elapsed


def copy(base: Path, scratch: Path) -> Path:
    shutil.rmtree(scratch, ignore_errors=True)
    # Hard links: git never rewrites an object or a pack in place, and every ref, index or
    # file write is a new file renamed over the old one.
    subprocess.run(["cp", "-al", str(base), str(scratch)], check=True)
    (scratch / "ready").unlink(missing_ok=True)
    repo = scratch / "repo"
    # But for reflogs: git appends to them in place, so linked they would grow the cached base
    # with every round. Copied, each round starts from the same base.
    logs = repo / ".git" / "logs"
    if logs.is_dir():
        shutil.rmtree(logs)
        shutil.copytree(base / "repo" / ".git" / "logs", logs)
    git(repo, "remote", "set-url", "origin", str(scratch / "origin.git"))
    return repo


def raw_ops(repo: Path, samples: Samples, case: str) -> None:
    """One of each raw git write a step's effects make, in this repository."""
    (repo / "raw.txt").write_text(f"{time.time()}\n")
    commit = ["sh", "-c", "git add raw.txt && git commit --quiet -m raw"]
    samples.add(f"{case} raw commit", timed(commit, repo))
    samples.add(
        f"{case} raw push branch", timed(["git", "push", "--quiet", "origin", "main"], repo)
    )
    git(repo, "tag", "-a", "raw-tag", "-m", "raw")
    samples.add(
        f"{case} raw push tag", timed(["git", "push", "--quiet", "origin", "raw-tag"], repo)
    )
    tip = git(repo, "rev-parse", "refs/rcflow/ledger").strip()
    script = (
        'sha=$(git commit-tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904 -p "$1" -m raw) && '
        'git push --quiet origin "$sha:refs/rcflow/ledger"'
    )
    samples.add(f"{case} raw append", timed(["sh", "-c", script, "-", tip], repo))
    # validate's own git: a clean checkout of the RC commit beside the repository, the
    # validation (`true`) run in it, the checkout removed.
    tree = repo.parent / f"{repo.name}-raw-worktree"
    checkout = (
        'git worktree add --quiet --detach "$1" HEAD && (cd "$1" && true) && '
        'git worktree remove --force "$1"'
    )
    samples.add(f"{case} raw worktree", timed(["sh", "-c", checkout, "-", str(tree)], repo))


def status_floor() -> list[str]:
    shell = " && ".join(
        " ".join(f"'{a}'" for a in cmd)
        + (" <<< 'HEAD:pyproject.toml'" if "--batch" in cmd else "")
        + " >/dev/null"
        for cmd in GIT_READS
    )
    return ["bash", "-c", shell]


def one_round(
    cases: dict[str, Path],
    samples: Samples,
    shim: Path,
    scratch: Path,
    trees: list[tuple[str, str]],
    *,
    steps: bool,
) -> None:
    """Each repository in turn: status and log; with `steps`, a whole cycle and the raw ops."""
    for case, base in cases.items():
        repo = copy(base, scratch / case)
        floor = status_floor()
        samples.add(f"{case} status raw git", timed(floor, repo))
        samples.add(
            f"{case} log raw git",
            timed(["git", "log", "--max-count=50", "refs/rcflow/ledger"], repo),
        )
        for label, tree in trees:
            env = {"PYTHONPATH": tree} if tree else {}
            cmd = [sys.executable, "-m", "rcflow"] if tree else launcher()
            samples.add(f"{case} status{label}", timed([*cmd, "status", "--json"], repo, env))
            samples.add(f"{case} log{label}", timed([*cmd, "log", "--json"], repo, env))
        if not steps:
            shutil.rmtree(scratch / case, ignore_errors=True)
            continue
        pushes = scratch / f"{case}.pushes"
        env = {"PATH": f"{shim.parent}:{ENV['PATH']}", "RCFLOW_BENCH_PUSHES": str(pushes)}
        (repo / f"feature_{case}.py").write_text("V = 1\n")
        git(repo, "add", ".")
        git(repo, "commit", "--quiet", "-m", "feat: one more")
        git(repo, "push", "--quiet")
        total = 0.0
        for step, args in STEPS:
            if f"{case} {step} effects" not in samples.counts:  # the same every round
                plan = json.loads(rcflow(repo, *args, "--dry-run", "--json"))
                samples.counts[f"{case} {step} effects"] = [len(plan["plan"]["effects"])]
            pushes.write_text("")
            seconds = timed([*launcher(), *args, "--yes"], repo, env)
            samples.add(f"{case} {step}", seconds)
            total += seconds
            samples.counts.setdefault(f"{case} {step} pushes", []).append(
                len(pushes.read_text().splitlines())
            )
        samples.add(f"{case} cycle", total)
        # Last: a raw append leaves a tip without a checkpoint, which the steps must not see.
        raw_ops(repo, samples, case)
        shutil.rmtree(scratch / case, ignore_errors=True)


def ends_pairs(ends: dict[str, Path], samples: Samples, scratch: Path, pairs: int) -> None:
    """status and log on the two ends of the history axis, alternately, a pair at a time: each
    pair's ratio is the growth factor as measured within a second."""
    repos = {case: copy(base, scratch / f"pair-{case}") for case, base in ends.items()}
    for i in range(pairs):
        for case in repos if i % 2 == 0 else reversed(repos):
            for what in ("status", "log"):
                seconds = timed([*launcher(), what, "--json"], repos[case])
                samples.add(f"{case} {what} pair", seconds)
    for case in repos:
        shutil.rmtree(scratch / f"pair-{case}", ignore_errors=True)


# Raw git of a step's own effects (what a person would type), besides one append per effect.
OWN_GIT = {
    "bump": ("raw commit", "raw push branch"),
    "rc": ("raw push tag",),
    "validate": ("raw worktree",),
    "promote": ("raw push tag", "raw push branch"),
}
# Appends a step makes besides one per effect. validate's lease must be on the remote before
# a validation runs (a validation may dispatch a workflow: two runs that did not see each
# other's lease would dispatch it twice), and its one effect, the results, only exists after
# they ran: its lease is an append of its own. The other steps' leases travel with their
# first effect's push.
OWN_APPENDS = {"validate": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N = 50, 500; M = 2,000, 10,000")
    parser.add_argument(
        "--runs", type=int, default=9, help="interleaved rounds of status and log (default 9)"
    )
    parser.add_argument(
        "--step-runs",
        type=int,
        default=4,
        help="of those, rounds that also run a whole cycle (default 4: a cycle on 50,000 tags "
        "is 20 s of pushes, and fewer rounds left the growth factors to the machine's noise)",
    )
    parser.add_argument(
        "--compare",
        metavar="DIR",
        action="append",
        default=[],
        help="also time status and log with `python -m rcflow` from the source tree DIR",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=15,
        help="status and log timed alternately on the fewest and the most cycles, for their "
        "growth factors (default 15)",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    template = template_and_proof()
    histories = (50, 500) if args.quick else (50, 500, 2_000, 5_000)
    tag_counts = (2_000, 10_000) if args.quick else (2_000, 10_000, 50_000)
    history_tags = 10_000
    cases: dict[str, Path] = {}
    for n in histories:
        cases[f"N={n}"] = synthesise(template, n, history_tags)
    for m in tag_counts:
        if m != history_tags:
            cases[f"M={m}"] = synthesise(template, 50, m)
    print(
        f"{len(cases)} repositories ready in {time.perf_counter() - start:.0f}s "
        f"(N cycles at {history_tags} tags; M tags at 50 cycles)"
    )
    trees = [("", "")] + [(f" ({Path(t).name})", str(Path(t).resolve())) for t in args.compare]

    samples = Samples()
    with tempfile.TemporaryDirectory(prefix="rcflow-bench-") as tmp:
        scratch = Path(tmp)
        shim = scratch / "bin" / "git"
        shim.parent.mkdir()
        shim.write_text(PUSH_SHIM.format(git=shutil.which("git")))
        shim.chmod(0o755)
        first, last = f"N={histories[0]}", f"N={histories[-1]}"
        # The two ends of the growth factor timed one after the other, and every other round
        # backwards: a machine slower for a while (this one varies by half within minutes)
        # slows both ends of a round's ratio, not one.
        ends = {first: cases[first], last: cases[last]}
        forward = {**ends, **{c: p for c, p in cases.items() if c not in ends}}
        for r in range(args.runs):
            order = dict(reversed(forward.items())) if r % 2 else forward
            one_round(order, samples, shim, scratch, trees, steps=r < args.step_runs)
            print(f"round {r + 1}/{args.runs} done at {time.perf_counter() - start:.0f}s")
        ends_pairs(ends, samples, scratch, args.pairs)
        print(f"{args.pairs} pairs of status and log done at {time.perf_counter() - start:.0f}s")
    report(samples, cases, histories, trees, args.runs, min(args.step_runs, args.runs))
    return 0


def ms(samples: Samples, name: str) -> str:
    return f"{samples.median(name) * 1000:7.0f} ms ±{samples.spread(name) * 500:4.0f}"


def report(
    samples: Samples,
    cases: dict[str, Path],
    histories: Sequence[int],
    trees: list[tuple[str, str]],
    runs: int,
    step_runs: int,
) -> None:
    print(
        f"\nmedians of {runs} interleaved rounds for status and log, {step_runs} for the steps "
        "(± half the spread, max-min)\n"
    )
    for case in cases:
        print(f"{case}")
        print(
            f"  {'status':<10} {ms(samples, f'{case} status')}   raw git "
            f"{ms(samples, f'{case} status raw git')}"
        )
        for label, _ in trees[1:]:
            print(f"  {'status' + label:<10} {ms(samples, f'{case} status{label}')}")
        print(
            f"  {'log':<10} {ms(samples, f'{case} log')}   raw git "
            f"{ms(samples, f'{case} log raw git')}"
        )
        for label, _ in trees[1:]:
            print(f"  {'log' + label:<10} {ms(samples, f'{case} log{label}')}")
        append = samples.median(f"{case} raw append")
        for step, _ in STEPS:
            effects = statistics.median(samples.counts[f"{case} {step} effects"])
            pushes = statistics.median(samples.counts[f"{case} {step} pushes"])
            lease = OWN_APPENDS.get(step, 0)
            floor = sum(samples.median(f"{case} {op}") for op in OWN_GIT[step])
            floor += (effects + lease) * append
            ratio = samples.median(f"{case} {step}") / floor if floor else float("nan")
            counted = f"{effects:.0f} effects" + (" + lease" if lease else "")
            print(
                f"  {step:<10} {ms(samples, f'{case} {step}')}   floor {floor * 1000:7.0f} ms "
                f"({counted})  {ratio:4.1f}x floor  {pushes:.0f} git push  "
                f"target <= 2x: {'met' if ratio <= 2 else 'NOT met'}"
            )
        print(f"  {'cycle':<10} {ms(samples, f'{case} cycle')}")
    first, last = f"N={histories[0]}", f"N={histories[-1]}"
    print(f"\ngrowth from {histories[0]} to {histories[-1]} past cycles (target <= 1.3x)")
    print(
        "  (the median of paired ratios, both ends timed one after the other: status and log "
        "in alternating pairs, the steps' cycles back to back in each round; the ratio of the "
        "medians beside it)"
    )
    for what in ("status", "log", *(s for s, _ in STEPS), "cycle"):
        by_pairs = what in ("status", "log")
        paired_by = f" {what} pair" if by_pairs else f" {what}"
        a, b = samples.times[f"{first}{paired_by}"], samples.times[f"{last}{paired_by}"]
        paired = [y / x for x, y in zip(a, b, strict=True)]
        growth = statistics.median(paired)
        of_medians = statistics.median(b) / statistics.median(a)
        verdict = "met" if growth <= 1.3 else "NOT met"
        print(
            f"  {what:<10} {growth:5.2f}x  ({'pairs' if by_pairs else 'rounds'} "
            f"{min(paired):.2f}-{max(paired):.2f}; "
            f"medians {of_medians:.2f}x)  growth target <= 1.3x: {verdict}"
        )
    # N=50 is the 10,000-tag point of the tags axis.
    tags = sorted([(int(c[2:]), c) for c in cases if c.startswith("M=")] + [(10_000, "N=50")])
    if tags:
        small = tags[0][1]
        big = tags[-1][1]
        print(f"\ngrowth from {small} to {big} tags (50 cycles)")
        for what in ("status", "log", *(s for s, _ in STEPS)):
            growth = samples.median(f"{big} {what}") / samples.median(f"{small} {what}")
            print(f"  {what:<10} {growth:5.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
