"""The `[assets] build` of the artifact tests: a wheel and an sdist, as a release build makes.

Run in the RC's worktree as `python artifact_build.py PROJECT [final|rc|both]`: dists of the
version in pyproject.toml (final: what the RC commit says) and/or of `RCFLOW_PEP440` (the RC's).
Each build writes a random payload, like a build that is not reproducible: only carrying the RC's
bytes gives the final the same files.
"""

from __future__ import annotations

import os
import secrets
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realservers.pypi import build_sdist, build_wheel


def main() -> None:
    project, mode = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "final"
    final = tomllib.loads(Path("pyproject.toml").read_text())["project"]["version"]
    versions = {"final": [final], "rc": [os.environ["RCFLOW_PEP440"]]}.get(mode)
    if versions is None:
        versions = [final, os.environ["RCFLOW_PEP440"]]
    dist = Path("dist")
    dist.mkdir(exist_ok=True)
    for version in versions:
        build_wheel(dist, project, version, payload=secrets.token_hex(8))
        build_sdist(dist, project, version)


if __name__ == "__main__":
    main()
