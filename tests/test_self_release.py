"""rcflow releases rcflow: a copy of this repository's tracked files, with a bare sandbox origin,
goes through `rcflow rehearse` end to end — both version files bumped, the real wheel and sdist
built from the RC commit by the configured `[assets] build`, carried byte for byte to the final —
and `rcflow doctor` on it is clean (against the GitHub test server, as in GitHub Actions).

The copy's validation is replaced by a quick one (`ruff check`): the configured one is this whole
test suite, which the rehearsal would run inside the suite."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ghserver.server import GitHubServer

from rcflow.commands import init as scaffold
from tests.support.linters import assert_actionlint_clean, assert_zizmor_clean
from tests.support.project import Project, git

REPO = Path(__file__).resolve().parents[1]
QUICK_VALIDATION = '[[validate]]\nname = "lint"\nrun = "python -m ruff check rcflow"\n\n'


def tracked_copy(dest: Path, *, quick_validation: bool = True) -> Path:
    """This repository's tracked files (as they are in the work tree) in a new repository whose
    origin is a bare sandbox; with quick_validation, rcflow.toml's `[[validate]]` is replaced."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout of rcflow (an unpacked sdist): nothing to copy")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    work = dest / "work"
    for rel in filter(None, listed.split("\0")):
        source = REPO / rel
        if source.is_file() and not source.is_symlink():
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    config = (work / "rcflow.toml").read_text(encoding="utf-8")
    start, end = config.index("[[validate]]"), config.index("# The files that carry")
    if quick_validation:
        config = config[:start] + QUICK_VALIDATION + config[end:]
    (work / "rcflow.toml").write_text(config, "utf-8")
    git(dest, "init", "--quiet", "--bare", "--initial-branch=main", str(dest / "origin.git"))
    git(work, "init", "--quiet", "--initial-branch=main")
    git(work, "remote", "add", "origin", str(dest / "origin.git"))
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "feat: rcflow as it is in this checkout")
    git(work, "push", "--quiet", "origin", "main")
    git(work, "branch", "--quiet", "--set-upstream-to=origin/main")
    return work


def env_with_venv(tmp: Path) -> dict[str, str]:
    """The build's `python` is this venv's (build, ruff), offline like the rest of the suite."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp)
    return env


def refs(git_dir: Path) -> str:
    return git(git_dir, "for-each-ref", "--format=%(objectname) %(refname)")


def test_this_repository_is_configured_to_release_itself() -> None:
    config = tomllib.loads((REPO / "rcflow.toml").read_text(encoding="utf-8"))
    assert config["python_package"] == {"trusted_publishing": True}
    assert [f["path"] for f in config["version_file"]] == ["pyproject.toml", "rcflow/__init__.py"]
    assert "python -m build --outdir dist" in config["assets"]["build"]
    release = (REPO / ".github/workflows/release.yml").read_text(encoding="utf-8")
    assert "      id-token: write" in release
    assert scaffold.GENERATED_MARKER in release.partition("\n")[0]  # doctor checks its drift


def test_rehearse_releases_a_copy_of_this_repository_end_to_end(tmp_path: Path) -> None:
    work = tracked_copy(tmp_path / "copy")
    version = tomllib.loads((work / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    major, minor = (int(n) for n in re.findall(r"\d+", version)[:2])
    final = f"{major}.{minor + 1}.0"
    origin_before = refs(tmp_path / "copy" / "origin.git")
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    proc = subprocess.run(
        [sys.executable, "-m", "rcflow", "rehearse", "--bump", "minor", "--keep", "--json"],
        cwd=work,
        env=env_with_venv(scratch),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )

    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["rehearsal"] == "complete"
    assert [(s["step"], s["status"]) for s in doc["steps"]] == [
        ("bump", "applied"),
        ("rc", "applied"),
        ("validate", "applied"),
        ("promote", "applied"),
    ]
    assert refs(tmp_path / "copy" / "origin.git") == origin_before  # the real origin untouched
    (sandbox,) = scratch.glob("rcflow-rehearse-*")
    rehearsed = Project(sandbox)
    assert rehearsed.read("pyproject.toml").count(f'version = "{final}"') == 1
    assert f'__version__ = "{final}"' in rehearsed.read("rcflow/__init__.py")
    tags = rehearsed.remote_tags()
    assert tags[f"v{final}"] == tags[f"v{final}-rc.1"]

    # The final's assets are the RC's bytes: the wheel and the sdist of the final version, built
    # from the RC commit by `python -m build`, with the version the bump wrote.
    def assets(tag: str) -> dict[str, str]:
        release = rehearsed.forge_release(tag)
        assert release is not None, tag
        return {a["name"]: a["sha256"] for a in release["assets"]}

    rc_assets, final_assets = assets(f"v{final}-rc.1"), assets(f"v{final}")
    wheel, sdist = f"rcflow-{final}-py3-none-any.whl", f"rcflow-{final}.tar.gz"
    assert set(final_assets) == {wheel, sdist, "SHA256SUMS"}
    assert final_assets == rc_assets
    wheel_bytes = rehearsed.forge_asset(f"v{final}", wheel)
    sdist_bytes = rehearsed.forge_asset(f"v{final}", sdist)
    assert wheel_bytes is not None and sdist_bytes is not None
    assert hashlib.sha256(wheel_bytes).hexdigest() == final_assets[wheel]
    (tmp_path / wheel).write_bytes(wheel_bytes)
    (tmp_path / sdist).write_bytes(sdist_bytes)
    with zipfile.ZipFile(tmp_path / wheel) as archive:
        metadata = archive.read(f"rcflow-{final}.dist-info/METADATA").decode()
        assert f"Version: {final}\n" in metadata
        assert f'__version__ = "{final}"' in archive.read("rcflow/__init__.py").decode()
        assert "rcflow/templates/release.yml.j2" in archive.namelist()
    with tarfile.open(tmp_path / sdist) as tar:
        assert f"rcflow-{final}/rcflow.toml" not in tar.getnames()  # sdist: code and tests
        assert f"rcflow-{final}/rcflow/__init__.py" in tar.getnames()


def test_doctor_is_clean_on_this_repository(
    tmp_path: Path,
    make_github_server: Callable[..., GitHubServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In GitHub Actions (GITHUB_REPOSITORY, the job token): every finding doctor has."""
    work = tracked_copy(tmp_path / "copy", quick_validation=False)
    server = make_github_server(
        owner="acme", repo="rcflow", git_dir=tmp_path / "copy" / "origin.git"
    )
    env = env_with_venv(tmp_path)
    env.update(
        GITHUB_REPOSITORY="acme/rcflow",
        GITHUB_API_URL=server.base_url,
        GITHUB_TOKEN=server.token,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "rcflow", "doctor", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == 0, json.dumps(doc, indent=2)[-3000:]
    assert doc["findings"] == [], doc


def _doctor(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rcflow", "doctor", "--json", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def test_doctor_in_a_clone_without_a_github_remote_says_what_it_could_not_check(
    tmp_path: Path,
) -> None:
    """A maintainer's clone off another host (here a bare copy), outside GitHub Actions: every
    check that needs no GitHub runs and is clean; the GitHub ones are named as skipped, a warning,
    so doctor is clean (exit 0). `--alert` writes to GitHub, so there it is a usage error."""
    work = tracked_copy(tmp_path / "copy", quick_validation=False)
    env = {k: v for k, v in env_with_venv(tmp_path).items() if not k.startswith("GITHUB_")}
    env.pop("CI", None)
    origin = tmp_path / "copy" / "origin.git"
    before = refs(origin)

    proc = _doctor(work, env)

    doc: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == 0, json.dumps(doc, indent=2)[-3000:]
    [finding] = doc["findings"]
    assert (finding["id"], finding["severity"], finding["where"]) == (
        "forge.github-unknown",
        "warning",
        "rcflow.toml",
    )
    assert f"remote 'origin' ({origin})" in finding["message"]
    assert "GITHUB_REPOSITORY" in finding["fix"]

    alert = _doctor(work, env, "--alert")
    assert alert.returncode == 2, alert.stdout + alert.stderr
    assert "cannot tell the repository" in json.loads(alert.stdout)["error"]
    # The steps still refuse as before: they would publish releases on GitHub.
    status = subprocess.run(
        [sys.executable, "-m", "rcflow", "status", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert status.returncode == 2, status.stdout + status.stderr
    assert "cannot tell the repository" in json.loads(status.stdout)["error"]
    assert refs(origin) == before and git(work, "status", "--porcelain") == ""


def test_this_repositorys_workflows_run_rcflow_from_the_checkout(
    zizmor: str,
    actionlint: str,
) -> None:
    """rcflow is on no index: its own release and doctor jobs run the action of their checkout
    (`uses: ./`), and the files are exactly what `rcflow init` writes for this repository."""
    planned = scaffold.plan_init(REPO, scaffold.InitOptions())
    assert [(f.path, f.same) for f in planned] == [
        (scaffold.RELEASE_WORKFLOW, True),
        (scaffold.VALIDATE_WORKFLOW, True),
        (scaffold.DOCTOR_WORKFLOW, True),
    ]
    for path in (scaffold.RELEASE_WORKFLOW, scaffold.DOCTOR_WORKFLOW):
        text = (REPO / path).read_text(encoding="utf-8")
        assert "\n        uses: ./ # zizmor: ignore[self-repository]" in text, path
        assert "pip install" not in text.replace('pip install ".[dev]"', ""), path
        assert "RCFLOW_REQUIREMENT" not in text, path
    workflows = [REPO / f.path for f in planned]
    assert_actionlint_clean(actionlint, workflows)
    assert_zizmor_clean(
        zizmor,
        workflows,
        (("self-repository", "rcflow-doctor.yml"), ("self-repository", "release.yml")),
    )
