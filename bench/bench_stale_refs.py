"""Benchmark the stale-reference scan (rcflow/checks/stale_refs.py, issue #5 class 3).

Generates (once, cached under bench/.work/) a repository of 10,000 tracked text files — a few
hundred with references to the previous name `old-org/repo` in every form, a few hundred with
look-alikes (docker.io/old-org/app, src/old-org/repo.py, github.com/old-org/repo-tools), the rest
plain code and docs — plus a few binary files holding the string. Then times, side by side, the
median of several runs of:

- floor:  a plain `git grep -c` of the previous name over the same tracked files;
- rcflow: `stale_refs.findings()` in this process (one git grep, then the precise patterns).

Usage: .venv/bin/python bench/bench_stale_refs.py [--files N] [--refs N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rcflow.preflight import stale_refs

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "HOME": str(WORK),
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
}

REFERENCES = [
    "      - uses: old-org/repo/.github/actions/setup@v1",
    "          tags: ghcr.io/old-org/app:${{ github.ref_name }}",
    "[![CI](https://github.com/old-org/repo/actions/workflows/ci.yml/badge.svg)]",
    "    git clone git@github.com:old-org/repo.git",
    'import "github.com/old-org/repo/v2/pkg/client"',
    "  - github.com/old-org/repo//deploy/base?ref=v1.2.0",
    "curl -fsSL https://raw.githubusercontent.com/old-org/repo/main/install.sh | sh",
    "Documentation: https://old-org.github.io/repo/guide/",
]
LOOK_ALIKES = [
    "image: docker.io/old-org/app:1.4.0",
    "image: quay.io/old-org/app:1.4.0",
    "    image: old-org/app:1.4.0",
    "see src/old-org/repo.py for the entry point",
    "tools: https://github.com/old-org/repo-tools",
    "history: https://github.com/old-org/repository",
    "now at https://github.com/new-org/repo",
]
FILLER = [
    "def handler(event, context):",
    "    return {'status': 200, 'body': json.dumps(event)}",
    "The release pipeline builds, tags and publishes the artifacts in order.",
    "  replicas: 3",
    "func (c *Client) Do(req *http.Request) (*http.Response, error) {",
    "| option | default | meaning |",
    "    for item in items: total += item.weight * item.count",
    "",
]
SUFFIXES = [".py", ".md", ".yaml", ".go", ".txt", ".toml", ".js", ".rst"]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True
    ).stdout


def generate(files: int, refs: int) -> Path:
    root = WORK / f"stale-refs-{files}-{refs}"
    marker = root / ".git" / "rcflow-bench-done"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=root)
    ref_every = max(files // refs, 1)
    for i in range(files):
        path = root / f"pkg{i % 50:02d}" / f"mod{i // 50:03d}" / f"file{i}{SUFFIXES[i % 8]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{FILLER[(i + n) % len(FILLER)]}  # {i}.{n}" for n in range(60)]
        if i % ref_every == 0 and i // ref_every < refs:
            lines[7 + i % 40] = REFERENCES[(i // ref_every) % len(REFERENCES)]
        elif i % ref_every == ref_every // 2:
            lines[11 + i % 40] = LOOK_ALIKES[i % len(LOOK_ALIKES)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for i in range(5):
        (root / f"asset{i}.bin").write_bytes(b"\0\x01binary github.com/old-org/repo\n" * 100)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "bench fixture", cwd=root)
    marker.write_text("ok\n", encoding="utf-8")
    return root


def median_time(fn: Callable[[], None], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--refs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    start = time.perf_counter()
    root = generate(args.files, args.refs)
    built = time.perf_counter() - start
    tracked = len(git("ls-files", "-z", cwd=root).split("\0")) - 1
    size = sum(p.stat().st_size for p in root.glob("pkg*/*/*"))
    print(
        f"repository: {root} ({tracked} tracked files, {size / 1e6:.1f} MB, ready in {built:.1f}s)"
    )

    os.environ.update(ENV)  # the same hermetic git for both sides
    floor_argv = ["git", "grep", "-c", "-I", "-i", "-F", "-e", "old-org/repo"]

    def floor() -> None:
        subprocess.run(floor_argv, cwd=root, check=True, capture_output=True)

    found: list[stale_refs.Finding] = []

    def scan() -> None:
        found[:] = stale_refs.findings(root, "new-org/repo", ["old-org/repo"])

    floor()
    scan()  # warm the page cache and the index for both
    t_floor = median_time(floor, args.runs)
    t_scan = median_time(scan, args.runs)

    kinds = Counter(f.id for f in found)
    print(f"findings: {len(found)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    print(f"median of {args.runs} runs:")
    print(f"  floor  git grep -c       {t_floor * 1000:8.1f} ms")
    print(
        f"  rcflow findings()        {t_scan * 1000:8.1f} ms  ({t_scan / t_floor:.2f}x the floor)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
