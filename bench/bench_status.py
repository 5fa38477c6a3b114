"""Benchmark `rcflow status` against raw git and a Python-subprocess floor (DESIGN §13).

Generates (once, cached under bench/.work/) a repository of 100,000 commits and 2,000 annotated
tags with a bare origin on disk, then times, side by side, the median of several runs of:

- raw git: the same git commands rcflow's read path runs, from one shell;
- floor:   a fresh Python process running those commands with subprocess;
- rcflow:  `rcflow status --json` in a fresh process;
- peers:   commitizen (`cz version --project`) and python-semantic-release
           (`semantic-release --noop version --print`) when they are installed.

Target: rcflow within 2x the floor. Usage: python bench/bench_status.py [--commits N] [--tags N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "HOME": str(WORK),
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
}

# The read path of `rcflow status`, as git commands (rcflow/engine/observe.py, Git.first_look):
# the repository's root, then the status, the refs with each tag peeled (from packed-refs),
# the remote's refs and the version files at HEAD.
GIT_READS = [
    ["git", "rev-parse", "--show-toplevel", "--absolute-git-dir"],
    ["git", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no"],
    ["git", "show-ref", "--dereference"],
    ["git", "ls-remote", "--symref", "origin"],
    ["git", "cat-file", "--batch"],  # fed "HEAD:pyproject.toml"
]


def fast_import_stream(commits: int, tags: int) -> bytes:
    every = max(commits // tags, 1)
    out: list[bytes] = []
    tagged = 0
    version = "0.0.0"
    for i in range(1, commits + 1):
        tag_now = i % every == 0 and tagged < tags
        if tag_now:
            tagged += 1
            version = f"{tagged // 100}.{tagged % 100}.0"
        content = f'[project]\nname = "bench"\nversion = "{version}"\n'.encode()
        note = f"{i}\n".encode()
        msg = (f"feat: change {i}\n" if i % 7 == 0 else f"fix: change {i}\n").encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"mark :{i}\n".encode())
        out.append(f"committer Bench <bench@example.invalid> {1_600_000_000 + i} +0000\n".encode())
        out.append(f"data {len(msg)}\n".encode() + msg)
        if i > 1:
            out.append(f"from :{i - 1}\n".encode())
        out.append(f"M 100644 inline pyproject.toml\ndata {len(content)}\n".encode() + content)
        out.append(f"M 100644 inline counter.txt\ndata {len(note)}\n".encode() + note)
        if tag_now:
            tmsg = f"Release {version}\n".encode()
            out.append(f"tag v{version}\nfrom :{i}\n".encode())
            out.append(f"tagger Bench <bench@example.invalid> {1_600_000_000 + i} +0000\n".encode())
            out.append(f"data {len(tmsg)}\n".encode() + tmsg)
    return b"".join(out)


def generate(commits: int, tags: int) -> Path:
    repo = WORK / f"repo-{commits}-{tags}"
    if (repo / ".git").is_dir():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    run(["git", "init", "--quiet", "--initial-branch=main", str(repo)], WORK)
    stream = fast_import_stream(commits, tags)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True, env=ENV)
    run(["git", "checkout", "--quiet", "main"], repo)
    origin = WORK / f"origin-{commits}-{tags}.git"
    shutil.rmtree(origin, ignore_errors=True)
    run(["git", "clone", "--quiet", "--bare", str(repo), str(origin)], WORK)
    run(["git", "remote", "add", "origin", str(origin)], repo)
    run(["git", "fetch", "--quiet", "origin"], repo)
    run(["git", "branch", "--quiet", "--set-upstream-to=origin/main"], repo)
    run(["git", "gc", "--quiet"], repo)
    return repo


def run(
    argv: list[str], cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> None:
    subprocess.run(
        argv, cwd=cwd, env={**ENV, **(env or {})}, input=stdin, check=True, capture_output=True
    )


Case = tuple[str, list[str], dict[str, str]]


def median_times(cases: list[Case], cwd: Path, runs: int) -> dict[str, float]:
    """Each case's median, the cases interleaved round by round: a load that comes and goes
    during the bench (another job on the machine) falls on every case alike."""
    samples: dict[str, list[float]] = {}
    live = []
    for name, argv, env in cases:
        try:
            run(argv, cwd, env=env)  # warm the page cache
        except subprocess.CalledProcessError as exc:
            tail = exc.stderr.decode(errors="replace")[-200:]
            print(f"{name}: failed ({exc.returncode}): {tail}")
            continue
        live.append((name, argv, env))
        samples[name] = []
    for _ in range(runs):
        for name, argv, env in live:
            start = time.perf_counter()
            run(argv, cwd, env=env)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--compare",
        metavar="DIR",
        action="append",
        default=[],
        help="also time `python -m rcflow status --json` from the rcflow source tree DIR "
        "(e.g. a `git worktree` of an older commit), beside this tree's",
    )
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)

    start = time.perf_counter()
    repo = generate(args.commits, args.tags)
    print(
        f"repository: {repo} ({args.commits} commits, {args.tags} tags) "
        f"ready in {time.perf_counter() - start:.1f}s"
    )

    shell = " && ".join(
        " ".join(f"'{a}'" for a in cmd)
        + (" <<< 'HEAD:pyproject.toml'" if "--batch" in cmd else "")
        + " >/dev/null"
        for cmd in GIT_READS
    )
    floor = (
        "import subprocess\n"
        f"for cmd in {GIT_READS!r}:\n"
        "    subprocess.run(cmd, capture_output=True, input=b'HEAD:pyproject.toml\\n' "
        "if '--batch' in cmd else None, check=True)\n"
    )
    # The console script, as users run it (`python -m` would add runpy's start-up on top).
    script = Path(sys.executable).with_name("rcflow")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "rcflow"]
    rcflow = [*launcher, "status", "--json"]
    cases: list[Case] = [
        ("raw git", ["bash", "-c", shell], {}),
        ("python floor", [sys.executable, "-c", floor], {}),
        ("rcflow status", rcflow, {}),
    ]
    if args.compare:
        here = str(HERE.parent)
        module = [sys.executable, "-m", "rcflow", "status", "--json"]
        cases.append(("rcflow -m (this tree)", module, {"PYTHONPATH": here}))
        for tree in args.compare:
            source = str(Path(tree).resolve())
            cases.append((f"rcflow -m ({Path(tree).name})", module, {"PYTHONPATH": source}))
    if shutil.which("cz"):
        cases.append(("commitizen", ["cz", "version", "--project"], {}))
    if shutil.which("semantic-release"):
        cases.append(
            ("python-semantic-release", ["semantic-release", "--noop", "version", "--print"], {})
        )

    results = median_times(cases, repo, args.runs)
    base = results.get("python floor")
    print(f"\nmedian of {args.runs} interleaved runs")
    for name, seconds in results.items():
        ratio = f"{seconds / base:.2f}x floor" if base else ""
        print(f"  {name:<30} {seconds * 1000:8.1f} ms   {ratio}")
    if base and "rcflow status" in results:
        ok = results["rcflow status"] <= 2 * base
        print(f"\ntarget (rcflow within 2x the floor): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
