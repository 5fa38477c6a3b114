"""Run every bench of issue 14 and DESIGN §13 in turn, then list each target's verdict.

Each bench prints its own table and its verdicts ("... met" / "... NOT met"); this runs them one
after another (never side by side: they would time each other), echoes their output as it
comes, and ends with the verdict lines gathered in one place, so `make bench` answers "is every
target met?" at the bottom of one run.

Usage: python bench/run_all.py [BENCH ...]   (default: all, in the order below)
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = (
    "bench_status.py",
    "bench_startup.py",
    "bench_validate.py",
    "bench_history.py",
    "bench_assets.py",
)
# A verdict line: one target's outcome. Totals ("targets met: 1 of 2") are not targets.
VERDICT = re.compile(r"\b(NOT met|met)\b")
TOTAL = re.compile(r"^\s*targets\b")


def run(script: str) -> tuple[int, list[str]]:
    """Run one bench, echoing its output; its exit code and its verdict lines."""
    verdicts: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(HERE / script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if VERDICT.search(line) and not TOTAL.match(line):
                verdicts.append(line.strip())
    return proc.returncode, verdicts


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHES)
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        print(f"unknown bench: {', '.join(unknown)} (choose from {', '.join(BENCHES)})")
        return 2
    start = time.perf_counter()
    summary: list[tuple[str, list[str]]] = []
    failed: list[str] = []
    for script in chosen:
        print(f"\n===== {script} =====", flush=True)
        code, verdicts = run(script)
        if code != 0:
            failed.append(f"{script} (exit {code})")
        summary.append((script, verdicts))
    met = sum(1 for _, v in summary for line in v if "NOT met" not in line)
    total = sum(len(v) for _, v in summary)
    print(f"\n===== every target ({time.perf_counter() - start:.0f} s) =====")
    for script, verdicts in summary:
        print(script)
        for line in verdicts or ["(no verdict printed)"]:
            print(f"  {line}")
    for name in failed:
        print(f"FAILED: {name}")
    print(f"\n{met} of {total} targets met" + ("" if met == total and not failed else " - NOT all"))
    return 0 if met == total and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
