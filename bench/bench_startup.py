"""Benchmark rcflow's start-up against its floors (issue 14, item 5), in one run:

- `rcflow status --json` on 100,000 commits / 2,000 annotated tags (bench_status.py's repository)
  against a fresh Python process running the same git commands with subprocess (target: <= 2x);
- `rcflow doctor` on a 1,500-file Go repository against one `git grep` over its tracked files
  (target: <= 3x). The repository is synthesised (go.mod, packages with tests, docs, the
  project's own CI workflows, rcflow.toml with a previous name to search for, the workflows
  `rcflow init` writes, ~9 KiB a file as in etcd or prometheus), or `--doctor-repo DIR` names
  a checkout of a real project to use instead (it needs an rcflow configuration);
- `rcflow --help` and `rcflow --version` against Python's own start-up (no target: they load
  the command-line parser; the step registry must not load planning, which a test guards).

Each figure is the median of interleaved runs, with its spread (the middle half of the runs,
as a ratio of the floor's median). `--compare DIR` also times the commands from another rcflow
source tree (e.g. a `git worktree` of main), beside this one.

Usage: .venv/bin/python bench/bench_startup.py [--runs N] [--doctor-repo DIR] [--compare DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench_status import ENV, WORK, generate, run

Case = tuple[str, list[str], dict[str, str]]

# Go-like sources: a package of several files with tests, as `go mod init` projects are laid out.
_GO = """package {pkg}

import (
\t"fmt"
\t"strings"

\t"github.com/acme/widget/internal/{dep}"
)

// {name} joins its parts after normalising them with {dep}.
func {name}(parts ...string) string {{
\tout := make([]string, 0, len(parts))
\tfor i, p := range parts {{
\t\tout = append(out, fmt.Sprintf("%d:%s", i, {dep}.Normalize(p)))
\t}}
\treturn strings.Join(out, ",")
}}
"""
_GO_TEST = """package {pkg}

import "testing"

func Test{name}(t *testing.T) {{
\tif got := {name}("a", "b"); got == "" {{
\t\tt.Fatalf("{name} returned nothing")
\t}}
}}
"""
_CI = """name: ci
on:
  push:
    branches: [main]
  pull_request:
permissions:
  contents: read
jobs:
  test:
    strategy:
      matrix:
        go: ["1.22", "1.23"]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - uses: actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0
        with:
          go-version: ${{ matrix.go }}
      - run: go test ./...
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - run: go vet ./...
"""
_RCFLOW_TOML = """tag_prefix = "v"
branch = "main"
forge = "local"
previous_names = ["old-org/widget"]

[[version_file]]
path = "VERSION"
pattern = '^v?(?P<version>[0-9][0-9A-Za-z.+-]*)[ \\t]*$'
"""


# A licence header as real Go files carry, and functions enough that the files weigh what a
# real module's do: etcd's 1,499 tracked files hold 14.4 MiB, prometheus's 1,668 hold 18.2 MiB
# (the first version of this repository held 0.35 MiB, and `git grep` over it took a third of
# its time over etcd).
_HEADER = "".join(f"// Copyright 2026 The Widget Authors. Licence line {i}.\n" for i in range(14))
_FUNCTIONS = 16  # per file: ~9 KiB a file


def _after(text: str, marker: str) -> str:
    return text[text.index(marker) + 1 :]


def go_repository(files: int, rcflow: Sequence[str]) -> Path:
    """A Go module of `files` tracked files, its bare origin, and v1.4.0 released, set up with
    `rcflow init` (its workflows are what doctor's drift check renders again).

    The origin is reached through a github.com URL that git rewrites to the bare repository on
    disk (`url.<path>.insteadOf`), so doctor knows the repository's name and searches it for
    the previous one, as on a real project that moved, without a network.
    """
    repo = WORK / f"go-{files}-v2"
    if (repo / ".git").is_dir():
        _adopt(repo, rcflow)  # the workflows of this rcflow's init, as an adopter keeps them
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    origin = WORK / f"go-{files}-v2-origin.git"
    shutil.rmtree(origin, ignore_errors=True)
    repo.mkdir(parents=True)
    written = {
        "go.mod": "module github.com/acme/widget\n\ngo 1.22\n",
        "go.sum": "".join(f"example.com/dep{i} v1.{i}.0 h1:{'x' * 43}=\n" for i in range(40)),
        "VERSION": "1.4.0\n",
        "README.md": "# widget\n\nMoved from github.com/old-org/widget.\n",
        "Makefile": "test:\n\tgo test ./...\n",
        "rcflow.toml": _RCFLOW_TOML,
        ".github/workflows/ci.yml": _CI,
        ".github/workflows/lint.yml": _CI.replace("name: ci", "name: lint"),
        "cmd/widget/main.go": 'package main\n\nfunc main() { println("widget") }\n',
    }
    i = 0
    while len(written) < files:
        pkg, dep = f"pkg{i // 6}", f"pkg{max(i // 6 - 1, 0)}"
        name = f"Join{i}"
        base = f"internal/{pkg}/file{i % 6}"
        # One package clause and import block, then the functions (and their tests).
        source = _GO.format(pkg=pkg, dep=dep, name=name) + "".join(
            "\n" + _after(_GO.format(pkg=pkg, dep=dep, name=f"{name}x{k}"), "\n// ")
            for k in range(1, _FUNCTIONS)
        )
        tests = _GO_TEST.format(pkg=pkg, name=name) + "".join(
            "\n" + _after(_GO_TEST.format(pkg=pkg, name=f"{name}x{k}"), "\nfunc ")
            for k in range(1, _FUNCTIONS // 2)
        )
        written[f"{base}.go"] = _HEADER + source
        written[f"{base}_test.go"] = _HEADER + tests
        if i % 10 == 0:
            written[f"docs/{pkg}-{i}.md"] = f"# {pkg}\n\nSee https://github.com/acme/widget.\n"
        i += 1
    for rel, text in list(written.items())[:files]:
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    run(["git", "init", "--quiet", "--initial-branch=main", str(repo)], WORK)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "--quiet", "-m", "widget 1.4.0"], repo)
    run(["git", "tag", "-a", "v1.4.0", "-m", "v1.4.0"], repo)
    run(["git", "clone", "--quiet", "--bare", str(repo), str(origin)], WORK)
    url = "https://github.com/acme/widget.git"
    run(["git", "remote", "add", "origin", url], repo)
    run(["git", "config", f"url.{origin}.insteadOf", url], repo)
    run(["git", "fetch", "--quiet", "origin"], repo)
    run(["git", "branch", "--quiet", "--set-upstream-to=origin/main"], repo)
    _adopt(repo, rcflow)
    return repo


def _adopt(repo: Path, rcflow: Sequence[str]) -> None:
    """As a maintainer adopts rcflow, and re-runs init after upgrading it: init writes the
    workflows (the configuration is there), committed and pushed."""
    run([*rcflow, "init", "--yes", "--rcflow-requirement", "rcflow==0.1.0"], repo)
    changed = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True)
    if changed.stdout.strip():
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "--quiet", "-m", "rcflow init"], repo)
        run(["git", "push", "--quiet", "origin", "main"], repo)


CPU: dict[str, list[float]] = {}  # each case's CPU seconds per run (its git processes included)


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(cases: list[Case], cwd: Path, runs: int) -> dict[str, list[float]]:
    """Every case's samples, the cases interleaved round by round (a load that comes and goes
    falls on each alike). A case that fails is reported and left out. The CPU time of each run
    goes to `CPU`: on a shared machine it says what wall time cannot."""
    live: list[Case] = []
    for name, argv, env in cases:
        done = subprocess.run(argv, cwd=cwd, env={**ENV, **env}, capture_output=True)
        if done.returncode not in (0, 3):  # 3: doctor found an error, still a full run
            print(f"{name}: failed ({done.returncode}): {done.stderr.decode()[-300:]}")
            continue
        live.append((name, argv, env))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in live}
    for _ in range(runs):
        for name, argv, env in live:
            cpu, start = _cpu(), time.perf_counter()
            subprocess.run(argv, cwd=cwd, env={**ENV, **env}, capture_output=True)
            samples[name].append(time.perf_counter() - start)
            CPU.setdefault(name, []).append(_cpu() - cpu)
    return samples


def report(title: str, samples: dict[str, list[float]], floor: str, target: float | None) -> bool:
    print(f"\n{title}")
    base = statistics.median(samples[floor]) if floor in samples else None
    cpu_base = statistics.median(CPU[floor]) if floor in CPU else None
    for name, s in samples.items():
        q1, med, q3 = statistics.quantiles(s, n=4)
        ratio = ""
        if base:
            ratio = f"{med / base:5.2f}x  (spread {q1 / base:.2f}-{q3 / base:.2f}x)"
        cpu = statistics.median(CPU[name])
        cpu_ratio = f" {cpu / cpu_base:5.2f}x" if cpu_base else ""
        print(f"  {name:<34} {med * 1000:8.1f} ms  {ratio:<30} cpu {cpu * 1000:6.1f} ms{cpu_ratio}")
    main = next(iter(samples))
    if target is None or base is None or main not in samples:
        return True
    ratio = statistics.median(samples[main]) / base
    ok = ratio <= target
    print(f"  target: {main} <= {target:g}x {floor}: {'met' if ok else 'NOT met'} ({ratio:.2f}x)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--files", type=int, default=1500, help="files of the Go repository")
    parser.add_argument("--doctor-repo", metavar="DIR", type=Path)
    parser.add_argument("--compare", metavar="DIR", action="append", default=[])
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)

    script = Path(sys.executable).with_name("rcflow")
    rcflow = [str(script)] if script.exists() else [sys.executable, "-m", "rcflow"]
    module = [sys.executable, "-m", "rcflow"]
    # `python -m rcflow` from each tree, this one first: the same launcher on both sides.
    trees = [(Path(t).name, str(Path(t).resolve())) for t in args.compare]
    if trees:
        trees.insert(0, ("this tree", str(Path(__file__).resolve().parent.parent)))

    def compared(label: str, words: list[str]) -> list[Case]:
        return [(f"{label} ({name})", [*module, *words], {"PYTHONPATH": p}) for name, p in trees]

    # status --json: bench_status's repository and floor (the git commands status runs).
    from bench_status import GIT_READS

    status_repo = generate(100_000, 2_000)
    floor = (
        "import subprocess\n"
        f"for cmd in {GIT_READS!r}:\n"
        "    subprocess.run(cmd, capture_output=True, input=b'HEAD:pyproject.toml\\n' "
        "if '--batch' in cmd else None, check=True)\n"
    )
    status = timed(
        [
            ("rcflow status --json", [*rcflow, "status", "--json"], {}),
            ("python floor (status's git reads)", [sys.executable, "-c", floor], {}),
            *compared("status --json", ["status", "--json"]),
        ],
        status_repo,
        args.runs,
    )

    go = args.doctor_repo.resolve() if args.doctor_repo else go_repository(args.files, rcflow)
    tracked = subprocess.run(["git", "ls-files"], cwd=go, capture_output=True, text=True)
    grep = ["git", "grep", "-c", "-F", "-e", "old-org/widget", "--", "."]
    doctor = timed(
        [
            ("rcflow doctor", [*rcflow, "doctor"], {}),
            ("git grep", ["bash", "-c", f"{' '.join(grep)} >/dev/null; true"], {}),
            ("rcflow doctor --json", [*rcflow, "doctor", "--json"], {}),
            # The least any Python doctor does: start, import what runs git and reads
            # rcflow.toml, run the one grep. Its ratio shows how much of 3x is left for rcflow.
            (
                "python + tomllib + the grep",
                [
                    sys.executable,
                    "-c",
                    (
                        "import subprocess, tomllib\n"
                        f"subprocess.run({grep!r}, capture_output=True)\n"
                    ),
                ],
                {},
            ),
            *compared("doctor", ["doctor"]),
        ],
        go,
        args.runs,
    )

    cli = timed(
        [
            ("rcflow --help", [*rcflow, "--help"], {}),
            ("python start-up", [sys.executable, "-c", "pass"], {}),
            ("rcflow --version", [*rcflow, "--version"], {}),
            *compared("--help", ["--help"]),
        ],
        status_repo,
        args.runs,
    )

    print(
        f"median of {args.runs} interleaved runs; spread: the middle half of the runs; cpu: "
        "user+system time of the process and its children (less sensitive to a busy machine)"
    )
    met = [
        report(
            f"status --json (100,000 commits, 2,000 annotated tags: {status_repo})",
            status,
            "python floor (status's git reads)",
            2.0,
        ),
        report(
            f"doctor ({len(tracked.stdout.splitlines())} tracked files: {go})",
            doctor,
            "git grep",
            3.0,
        ),
    ]
    report("--help / --version (no target)", cli, "python start-up", None)
    print(f"\ntargets met: {sum(met)} of {len(met)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
