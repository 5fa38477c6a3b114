"""Benchmark `rcflow validate`: validations that wait run side by side (issue 14, item 3).

Builds (under bench/.work/validate/, anew each run) a small project with a bare origin on disk,
eight `[[validate]] run = "sleep 2"` entries, bumped and with an RC cut, then times, interleaved
round by round, a fresh `rcflow validate --yes --rerun s1 ... --rerun s8` process (every
command runs again, each result is recorded as it finishes, then `validate_completed`):

- floor:     a Python process running the eight `sleep 2` side by side (no git, no ledger);
- overhead:  `rcflow validate --yes` with nothing to do (start-up, observe, plan);
- rcflow:    the eight validations, all at once (the default);
- jobs 2:    the same with `--jobs 2`, what the old default (cpu_count, 2 here) ran at a time;
- mix:       on the GitHub test server (tests/ghserver): `validate_jobs = 2`, four `sleep 2`
             and a checks validation still in progress at its first look, passing at the
             second (the poll's first wait is 5 s); the polled one takes no command slot, so
             the run lasts about max(4 s of commands, 5 s of polling), not their sum.

Target (issue 14): eight validations of `sleep 2` in <= 3 s on 2 cores, the whole process.
Usage: .venv/bin/python bench/bench_validate.py [--runs N] [--no-mix] [--no-jobs2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "validate"
ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "HOME": str(WORK),
    "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
}
N = 8
TARGET = 3.0  # seconds, the issue's
SLEEP = 2.0


def rcflow_argv() -> list[str]:
    script = Path(sys.executable).with_name("rcflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rcflow"]


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        argv, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr[-400:]}")
    return result.stdout


def validations(names: list[str], run_: str) -> str:
    return "".join(f'[[validate]]\nname = "{n}"\nrun = "{run_}"\n\n' for n in names)


def project(name: str, config: str, env: dict[str, str] | None = None) -> Path:
    """A project at 1.3.0 with `config` in rcflow.toml, bumped and with v1.4.0-rc.1 cut."""
    base = WORK / name
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    origin, root = base / "origin.git", base / "work"
    run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin)], base)
    run(["git", "init", "--quiet", "--initial-branch=main", str(root)], base)
    run(["git", "remote", "add", "origin", str(origin)], root)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.3.0"\n')
    (root / "rcflow.toml").write_text(config)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "--quiet", "-m", "feat: initial release"], root)
    run(["git", "tag", "-a", "v1.3.0", "-m", "Release 1.3.0"], root)
    (root / "feature.py").write_text("def feature():\n    return 42\n")
    run(["git", "add", "-A"], root)
    run(["git", "commit", "--quiet", "-m", "feat: add a feature"], root)
    run(["git", "push", "--quiet", "origin", "main", "v1.3.0"], root)
    run(["git", "branch", "--quiet", "--set-upstream-to=origin/main"], root)
    run([*rcflow_argv(), "bump", "--yes"], root, env)
    run([*rcflow_argv(), "rc", "--yes"], root, env)
    return root


def rerun_all(names: list[str]) -> list[str]:
    return [a for n in names for a in ("--rerun", n)]


Case = tuple[str, Callable[[], None]]


def sample(cases: list[Case], runs: int) -> dict[str, list[float]]:
    """Each case timed `runs` times, interleaved round by round: a load that comes and goes
    (other jobs share the machine) falls on every case alike."""
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(runs):
        for name, fn in cases:
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def line(name: str, values: list[float]) -> str:
    med = statistics.median(values)
    return (
        f"  {name:<34} median {med:6.2f} s   min {min(values):6.2f}   max {max(values):6.2f}"
        f"   (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-mix", action="store_true", help="skip the GitHub test server mix")
    parser.add_argument("--no-jobs2", action="store_true", help="skip the --jobs 2 comparison")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    names = [f"s{i}" for i in range(1, N + 1)]
    root = project("sleeps", validations(names, f"sleep {SLEEP:g}"))
    rcflow = rcflow_argv()
    run([*rcflow, "validate", "--yes"], root)  # validated: the overhead case has nothing to do
    floor = (
        "import subprocess\n"
        f"ps = [subprocess.Popen(['sleep', '{SLEEP:g}']) for _ in range({N})]\n"
        "[p.wait() for p in ps]\n"
    )
    cases: list[Case] = [
        ("floor (8 x sleep 2, side by side)", lambda: run([sys.executable, "-c", floor], root)),
        ("overhead (validate, nothing to do)", lambda: run([*rcflow, "validate", "--yes"], root)),
        (
            "rcflow validate (8 x sleep 2)",
            lambda: run([*rcflow, "validate", "--yes", *rerun_all(names)], root),
        ),
    ]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    samples = sample(cases, args.runs)
    if not args.no_jobs2:
        jobs2 = [
            (
                "rcflow validate --jobs 2 (old default)",
                lambda: run([*rcflow, "validate", "--yes", "--jobs", "2", *rerun_all(names)], root),
            )
        ]
        samples.update(sample(jobs2, max(1, min(args.runs, 3))))
    mix = None if args.no_mix else bench_mix(max(1, min(args.runs, 3)))
    if mix is not None:
        samples[mix[0]] = mix[1]
    print(f"load average after:  {os.getloadavg()[0]:.2f}")
    print("\nwall time of whole processes; medians with min and max of interleaved runs")
    for name, values in samples.items():
        print(line(name, values))
    measured = statistics.median(samples["rcflow validate (8 x sleep 2)"])
    verdict = "met" if measured <= TARGET else "NOT met"
    print(
        f"\ntarget: 8 validations of `sleep 2` in <= {TARGET:g} s on 2 cores: "
        f"measured {measured:.2f} s (median) -> {verdict}"
    )
    before, during, after = breakdown([*rcflow, "validate", "--yes", *rerun_all(names)], root)
    print(
        f"one run, by its progress lines: {before:.2f} s until the first command started "
        f"(start-up, observe, plan, lease), {during:.2f} s until the last passed, {after:.2f} s "
        "more to record the last results, validate_completed and the lease release"
    )
    if mix is not None:
        print(
            "mix: a polled checks validation beside 4 x sleep 2 in 2 slots lasts about "
            "max(4 s, 5 s first poll wait) + overhead; it would be >= 9 s if it held a slot"
        )
    return 0


def breakdown(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """One run's phases, from the time its progress lines (stderr) arrive."""
    start = time.perf_counter()
    p = subprocess.Popen(
        argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert p.stderr is not None
    first = last = None
    for text in p.stderr:
        now = time.perf_counter() - start
        if " started " in text and first is None:
            first = now
        if " passed " in text:
            last = now
    end = time.perf_counter() - start
    if p.wait() != 0 or first is None or last is None:
        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode})")
    return first, last - first, end - last


def bench_mix(runs: int) -> tuple[str, list[float]] | None:
    """4 x sleep 2 in 2 slots plus a checks validation polled on the GitHub test server."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    try:
        from ghserver import GitHubServer
    except ImportError as exc:  # the test server's dependencies are dev extras
        print(f"mix skipped: the GitHub test server cannot be imported ({exc})")
        return None
    names = [f"m{i}" for i in range(1, 5)]
    base = WORK / "mix"
    with GitHubServer(git_dir=base / "origin.git") as server:
        env = {"GITHUB_TOKEN": server.token, "RCFLOW_GITHUB_API_URL": server.base_url}
        config = (
            f'forge = "github"\ngithub_repository = "{server.full_name}"\n'
            f'github_api_url = "{server.base_url}"\nvalidate_jobs = 2\n\n'
            + validations(names, f"sleep {SLEEP:g}")
            + '[[validate]]\nname = "ci"\nchecks = ["ci"]\n'
        )
        root = project("mix", config, env)
        sha = run(["git", "rev-parse", "v1.4.0-rc.1^{commit}"], root).strip()
        rcflow = rcflow_argv()
        times = []
        for _ in range(runs):
            server.check_runs.clear()
            # In progress at the first look, passed at the second.
            server.add_check_run(
                sha, "ci", status="in_progress", conclusion=None, steps=[("completed", "success")]
            )
            start = time.perf_counter()
            run([*rcflow, "validate", "--yes", *rerun_all([*names, "ci"])], root, env)
            times.append(time.perf_counter() - start)
    return "mix: 4 x sleep 2 (2 slots) + checks", times


if __name__ == "__main__":
    raise SystemExit(main())
