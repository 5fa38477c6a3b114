"""Benchmark one large release asset through `rcflow rc` and `rcflow promote` (issue 14, item 4).

For an asset of --size bytes (default 1 GiB) it times, side by side, the medians of --runs runs:

- floor:   `openssl sha256 FILE` then `cp FILE COPY` — one hash and one copy of the bytes;
- rc:      `rcflow rc` in a fresh process: build, stage, tag, release, upload, SHA256SUMS;
- promote: `rcflow promote` in a fresh process: the RC's bytes carried onto the final, verified
           against the RC's SHA256SUMS, published;
- fixed:   the same rc and promote with a 1 KiB asset (what a step costs apart from the bytes).

The forge is the GitHub test server (tests/ghserver), running in this process, so its memory is
not rcflow's; the local forge keeps assets in git and refuses files above 100 MiB, as git hosts
do. The build hard-links the prepared file into dist/ (a copy when it cannot), so what is timed is
rcflow's own work on the bytes, not a build's. The max RSS reported is the largest of the rcflow
process and the processes it waited for (`getrusage(RUSAGE_CHILDREN)` in a fresh measuring
process per run). The file is read once before the floor and before each rc, so each starts
with the same warm page cache, whatever the machine did meanwhile. The server checks requests
as GitHub does (answering 422) but not its own answers against the spec: that is the tests'
assurance (~5 ms a request of the server's CPU on rcflow's path), not GitHub's work.

Targets: rc and promote each <= 1.5x the floor, and memory flat (max RSS well under the asset's
size: <= 100 MiB). Usage: python bench/bench_assets.py [--size 1G] [--runs 3] [--profile DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ghserver.server import GitHubServer  # noqa: E402 - after the path is set

from tests.support.on_github import github_project  # noqa: E402
from tests.support.project import Project  # noqa: E402

RATIO_TARGET = 1.5
RSS_TARGET_MIB = 100.0
BIN = Path(sys.executable).parent
ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C.UTF-8",
    "NO_COLOR": "1",
    # To time another checkout of rcflow (a baseline), put it first on PYTHONPATH.
    **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
}
# Runs a command and prints its wall time, the max RSS (KiB) of everything it waited for, and
# the CPU seconds (user + system) they used.
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "wall = time.perf_counter() - t\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(f'{code} {wall} {use.ru_maxrss} {use.ru_utime + use.ru_stime}', file=sys.stderr)\n"
)


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def make_file(path: Path, size: int) -> None:
    """Incompressible bytes, written in blocks (the bench itself keeps memory flat too)."""
    block = 8 << 20
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(block, left)
            fh.write(os.urandom(n))
            left -= n


def drop(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def settle() -> None:
    """Write back what earlier runs left dirty, so no timed run pays for another's writes; and
    free an earlier run's test server (its assets: GiBs of memory, in reference cycles), so no
    timed run pays for unmapping them when the garbage collector gets to it."""
    gc.collect()
    os.sync()


def warm(path: Path) -> None:
    """Read path once (its pages cached), as before each timed run that reads it."""
    buffer = memoryview(bytearray(8 << 20))
    with path.open("rb", buffering=0) as fh:
        while fh.readinto(buffer):
            pass


def floor(src: Path, work: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one hash and one copy of src."""
    dest = work / "floor-copy"
    settle()
    warm(src)
    cpu = children_cpu()
    started = time.perf_counter()
    subprocess.run(["openssl", "sha256", str(src)], check=True, capture_output=True)
    subprocess.run(["cp", str(src), str(dest)], check=True)
    took = time.perf_counter() - started
    cpu = children_cpu() - cpu
    dest.unlink()
    return took, cpu


def children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def own_cpu() -> float:
    """This process's CPU seconds: the test server's threads (the bench itself only waits)."""
    t = os.times()
    return t.user + t.system


# --profile DIR: each timed rcflow command runs under cProfile, its statistics written there
# (`python -m pstats DIR/rc-1.prof`); the times then include the profiler's cost.
PROFILE: list[Path] = []


def measured(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, max RSS MiB, CPU seconds) of one rcflow command in a fresh process."""
    if PROFILE:
        runs = len(list(PROFILE[0].glob(f"{args[-1]}-*.prof")))
        out = PROFILE[0] / f"{args[-1]}-{runs + 1}.prof"
        args = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "rcflow", *args[1:]]
    settle()
    answer = subprocess.run(
        [sys.executable, "-c", MEASURE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    *_, last = answer.stderr.strip().splitlines() or ["1 0 0 0"]
    code, wall, rss, cpu = last.split()
    if int(code) != 0:
        sys.exit(f"`{' '.join(args)}` failed in {cwd}:\n{answer.stdout}\n{answer.stderr}")
    return float(wall), int(rss) / 1024, float(cpu)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    answer = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if answer.returncode != 0:
        sys.exit(f"`{' '.join(cmd)}` failed in {cwd}:\n{answer.stdout}\n{answer.stderr}")


def stored_bytes(root: Path, skip: int) -> int:
    """Bytes of the files under root (the inode `skip`, the bench's own file, left out)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if st.st_ino != skip:
                total += st.st_size
    return total


def local_cycle(src: Path, base: Path) -> dict[str, tuple[float, ...]]:
    """The same cycle on the local forge: times, and what the clone and origin keep."""
    build = f'mkdir -p dist && (ln "{src}" dist/app.bin 2>/dev/null || cp "{src}" dist/app.bin)'
    config = (
        f'forge = "local"\n[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(build)}\n'
        '[[validate]]\nname = "unit"\nrun = "true"\n'
    )
    old = os.environ.copy()
    os.environ.update(ENV)
    try:
        project = Project(base).create(config=config)
    finally:
        os.environ.clear()
        os.environ.update(old)
    env = {**ENV, "HOME": str(base)}
    rcflow = str(BIN / "rcflow")
    skip = src.stat().st_ino
    clone, origin = project.root / ".git", project.origin
    before = stored_bytes(clone, skip), stored_bytes(origin, skip)
    run([rcflow, "bump", "auto"], project.root, env)
    rc = measured([rcflow, "rc"], project.root, env)
    run([rcflow, "validate"], project.root, env)
    promote = measured([rcflow, "promote"], project.root, env)
    size = src.stat().st_size
    kept = (
        (stored_bytes(clone, skip) - before[0]) / size,
        (stored_bytes(origin, skip) - before[1]) / size,
    )
    return {"rc": rc, "promote": promote, "copies": kept}


def cycle(src: Path, base: Path) -> dict[str, tuple[float, float, float, float]]:
    """One project on a fresh GitHub test server: bump, rc (timed), validate, promote (timed)."""
    build = f'mkdir -p dist && (ln "{src}" dist/app.bin 2>/dev/null || cp "{src}" dist/app.bin)'
    config = (
        f'[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(build)}\n'
        '[[validate]]\nname = "unit"\nrun = "true"\n'
    )
    with GitHubServer(git_dir=base / "origin.git") as server:
        server.checks_responses = False
        old = os.environ.copy()
        os.environ.update(ENV)
        try:
            project = github_project(base, server, config)
        finally:
            os.environ.clear()
            os.environ.update(old)
        server.add_release("v1.3.0", name="1.3.0", body="first release")
        env = {**ENV, "HOME": str(base), "GITHUB_TOKEN": server.token}
        rcflow = str(BIN / "rcflow")
        run([rcflow, "bump", "auto"], project.root, env)
        warm(src)
        server_cpu = own_cpu()
        rc = (*measured([rcflow, "rc"], project.root, env), own_cpu() - server_cpu)
        run([rcflow, "validate"], project.root, env)
        server_cpu = own_cpu()
        promote = (*measured([rcflow, "promote"], project.root, env), own_cpu() - server_cpu)
        final = server.release_by_tag("v1.4.0")
        carried = [a for a in (final.assets if final else []) if a.name == "app.bin"]
        if not carried or len(carried[0].data) != src.stat().st_size:
            sys.exit("the final does not carry the RC's asset: the bench measured a broken run")
    return {"rc": rc, "promote": promote}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} s  [{min(values):.2f}–{max(values):.2f}]"


def local(work: Path, size: int) -> bool:
    """One local-forge cycle: its times against the floor, and the copies it keeps."""
    src = work / "local.bin"
    make_file(src, size)
    base = work / "local"
    base.mkdir()
    try:
        floor_s, _ = floor(src, work)
        got = local_cycle(src, base)
    finally:
        drop(base)
        src.unlink()
    clone, origin = got["copies"]
    ok = clone <= 1.1 and origin <= 1.1
    print(f"local forge: asset {size / (1 << 20):.0f} MiB, 1 run (floor {floor_s:.2f} s)")
    for step in ("rc", "promote"):
        wall, mib, _ = got[step]
        print(
            f"  rcflow {step:<8}             {wall:7.2f} s  = {wall / floor_s:.2f}x floor  "
            f"max RSS {mib:.0f} MiB"
        )
    print(
        f"  kept per release (RC and final): clone {clone:.2f}x, origin {origin:.2f}x the asset"
        "  target <= 1 copy each (git's zlib adds a little): " + ("met" if ok else "NOT met")
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="asset size: bytes, or with K/M/G (1G)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (medians reported)")
    parser.add_argument(
        "--local-size",
        default="64M",
        help="the local forge's asset (it refuses above 100 MiB, as git hosts do): 64M",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write a cProfile of each timed rcflow command into DIR (times include its cost)",
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE.append(args.profile.resolve())
    size = parse_size(args.size)
    local_size = min(parse_size(args.local_size), 100 << 20)
    (HERE / ".work").mkdir(exist_ok=True)
    # Under bench/.work: the same file system as the clones, so a hard link and a rename work.
    work = Path(tempfile.mkdtemp(prefix="assets-", dir=HERE / ".work"))
    try:
        src = work / "app.bin"
        make_file(src, size)
        floors: list[float] = []
        floor_cpu: list[float] = []
        times: dict[str, list[float]] = {"rc": [], "promote": []}
        rss: dict[str, list[float]] = {"rc": [], "promote": []}
        cpu: dict[str, list[tuple[float, float]]] = {"rc": [], "promote": []}
        for i in range(args.runs):
            # Interleaved, so the page cache and the machine's load touch each the same way.
            wall, used = floor(src, work)
            floors.append(wall)
            floor_cpu.append(used)
            base = work / f"run{i}"
            base.mkdir()
            for step, (wall, mib, rcflow_cpu, server_cpu) in cycle(src, base).items():
                times[step].append(wall)
                rss[step].append(mib)
                cpu[step].append((rcflow_cpu, server_cpu))
            drop(base)
        print(
            f"github forge (test server): asset {size / (1 << 20):.0f} MiB, {args.runs} runs,"
            " medians [min–max]; ratios pair each run with the floor measured just before it"
        )
        print(f"  floor (openssl sha256 + cp)  {spread(floors)}")
        met = True
        for step in ("rc", "promote"):
            ratio = [t / f for t, f in zip(times[step], floors, strict=True)]
            ok = statistics.median(ratio) <= RATIO_TARGET and max(rss[step]) <= RSS_TARGET_MIB
            met &= ok
            print(
                f"  rcflow {step:<8}             {spread(times[step])}  "
                f"= {statistics.median(ratio):.2f}x floor [{min(ratio):.2f}–{max(ratio):.2f}]  "
                f"max RSS {max(rss[step]):.0f} MiB  "
                f"target <= {RATIO_TARGET}x, <= {RSS_TARGET_MIB:.0f} MiB: "
                + ("met" if ok else "NOT met")
            )
        # CPU seconds say what a loaded machine hides: on 2 cores the test server's work (it
        # receives, stores and digests each upload, as GitHub does) competes with rcflow's.
        print(
            f"  cpu (medians): floor {statistics.median(floor_cpu):.2f} s"
            + "".join(
                f"; {step} {statistics.median(c for c, _ in cpu[step]):.2f} s rcflow"
                f" + {statistics.median(s for _, s in cpu[step]):.2f} s test server"
                for step in ("rc", "promote")
            )
        )
        # What the steps cost apart from the bytes: the same cycle with a 1 KiB asset (start-up,
        # imports, git, API requests), so a ratio can be read as fixed cost plus the bytes' time.
        tiny = work / "tiny.bin"
        make_file(tiny, 1024)
        fixed: dict[str, list[float]] = {"rc": [], "promote": []}
        for i in range(args.runs):
            base = work / f"tiny{i}"
            base.mkdir()
            for step, (wall, _mib, _cpu, _server) in cycle(tiny, base).items():
                fixed[step].append(wall)
            drop(base)
        print(
            "  fixed cost (1 KiB asset):   "
            + "; ".join(f"{step} {spread(fixed[step]).strip()}" for step in ("rc", "promote"))
        )
        met &= local(work, local_size)
        print("targets " + ("met" if met else "NOT met"))
    finally:
        drop(work)


if __name__ == "__main__":
    main()
