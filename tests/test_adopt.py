"""Adopting rcflow on existing repositories (issue 12): `rcflow init --yes`, then a whole cycle
bump → rc → validate → promote → rollback with no hand edit and no --skip-check, then a doctor
with no error.

Each fixture reproduces what stopped a maintainer on a real project: unprefixed tags, a root
VERSION file, a Go version file, a chart under a subdirectory, kustomize pins, a release.yml of
the project's own, a fuzz workflow with per-leg artifact names, a GHCR push through `make`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcflow.cli.app import app
from rcflow.model.config import load_config
from rcflow.model.version_text import VersionFileKind, read_refs
from rcflow.preflight import workflows
from tests.support.project import git

# The warnings `rcflow doctor` may still print on these fixtures, each documented in the README:
# a release workflow that can only run once the repository is on GitHub.
DOCUMENTED_WARNINGS: set[str] = set()


@pytest.fixture(autouse=True)
def no_actionlint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflows, "find_actionlint", lambda root: None)


def cli(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args, "-C", str(root)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def make_repo(
    tmp_path: Path, files: dict[str, str], tags: tuple[str, ...], name: str = "app"
) -> Path:
    """A clone of a bare origin holding `files` at one commit tagged with each of `tags`."""
    origin = tmp_path / "origin.git"
    root = tmp_path / name
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(root))
    git(root, "config", "user.name", "Test Maintainer")
    git(root, "config", "user.email", "maintainer@example.invalid")
    git(root, "remote", "add", "origin", str(origin))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "feat: the project as it is")
    for tag in tags:
        git(root, "tag", "-a", tag, "-m", f"Release {tag}")
    (root / "feature.txt").write_text("a change since the last release\n")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "feat: a feature")
    git(root, "push", "--quiet", "origin", "main", *tags)
    git(root, "branch", "--quiet", "--set-upstream-to=origin/main")
    return root


def adopt(root: Path, *init_args: str) -> str:
    """`rcflow init --yes` (plus flags, never an edit), committed and pushed as the docs say."""
    code, out, err = cli(
        root, "init", "--yes", "--validate", "smoke=test -f feature.txt", *init_args
    )
    assert code == 0, out + err
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "ci: adopt rcflow")
    git(root, "push", "--quiet", "origin", "main")
    return out


def full_cycle(root: Path, *, final: str) -> None:
    """bump → rc → validate → promote → rollback, each with no --skip-check, then doctor."""
    for args in (("bump", "minor"), ("rc",), ("validate",), ("promote",)):
        code, out, err = cli(root, "--yes", *args)
        assert code == 0, (args, out, err)
    tags = git(root, "ls-remote", "--tags", "origin").split()
    assert f"refs/tags/{final}" in tags
    code, out, err = cli(root, "--yes", "rollback", "--reason", "adoption test")
    assert code == 0, out + err
    code, out, err = cli(root, "doctor", "--json")
    found = json.loads(out)["findings"]
    assert code == 0, found
    assert {f["id"] for f in found} <= DOCUMENTED_WARNINGS, found


def test_unprefixed_tags_set_an_empty_tag_prefix(tmp_path: Path) -> None:
    older = tuple(f"25.{n}" for n in range(1, 6))
    root = make_repo(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "26.2.0"\n',
            # The project's publish workflow, started by its own tag scheme.
            ".github/workflows/publish.yml": (
                "on:\n  push:\n    tags: ['2[0-9].[0-3].[0-9]+']\npermissions:\n"
                "  contents: read\njobs:\n  publish:\n    runs-on: ubuntu-latest\n"
                "    steps:\n      - run: echo publish\n"
            ),
        },
        (*older, "26.1.0", "26.2.0"),
    )
    out = adopt(root)

    assert load_config(root).tag_prefix == ""
    assert "use the prefix ''" in out
    code, status, _ = cli(root, "status")
    assert code == 0
    assert "Last release: 26.2.0" in status
    full_cycle(root, final="26.3.0")


def test_a_root_version_file(tmp_path: Path) -> None:
    root = make_repo(tmp_path, {"VERSION": "1.3.0\n", "main.sh": "echo hi\n"}, ("v1.3.0",))
    adopt(root)

    [vf] = load_config(root).version_files
    assert (vf.path, vf.kind) == ("VERSION", VersionFileKind.PATTERN)
    full_cycle(root, final="v1.4.0")
    assert (root / "VERSION").read_text() == "1.4.0\n"  # the release; the rollback keeps it


def test_a_go_version_file_and_the_go_toolchain(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "go.mod": "module example.com/app\n\ngo 1.22\n",
            "version/version.go": (
                'package version\n\nconst (\n\tMinClusterVersion = "3.0.0"\n'
                '\tVersion = "1.3.0"\n)\n'
            ),
        },
        ("v1.3.0",),
    )
    adopt(root)

    [vf] = load_config(root).version_files
    assert vf.path == "version/version.go"
    validate = (root / ".github/workflows/rcflow-validate.yml").read_text()
    assert "actions/setup-go@" in validate and "go-version-file: go.mod" in validate
    assert "setup-python" not in validate
    full_cycle(root, final="v1.4.0")
    text = (root / "version/version.go").read_text()
    assert 'Version = "1.4.0"' in text and 'MinClusterVersion = "3.0.0"' in text


def test_a_chart_in_a_subdirectory_moves_with_the_release(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "1.3.0"\n',
            "deploy/charts/app/Chart.yaml": (
                'apiVersion: v2\nname: app\nversion: 1.3.0\nappVersion: "1.3.0"\n'
            ),
            # A chart of its own version: only its appVersion follows the release.
            "deploy/charts/other/Chart.yaml": (
                'apiVersion: v2\nname: other\nversion: 0.2.0\nappVersion: "v1.3.0"\n'
            ),
            "services/api/pyproject.toml": '[project]\nname = "api"\nversion = "1.3.0"\n',
        },
        ("v1.3.0",),
    )
    adopt(root)

    paths = [f.path for f in load_config(root).version_files]
    assert paths == [
        "pyproject.toml",
        "deploy/charts/app/Chart.yaml",
        "deploy/charts/other/Chart.yaml",
        "services/api/pyproject.toml",
    ]
    full_cycle(root, final="v1.4.0")
    # Rolled back after the promotion: the bump stays, as the released files do.
    assert 'appVersion: "1.4.0"' in (root / "deploy/charts/app/Chart.yaml").read_text()
    other = (root / "deploy/charts/other/Chart.yaml").read_text()
    assert "version: 0.2.0" in other and 'appVersion: "v1.4.0"' in other


KUSTOMIZATION = """\
resources:
  - deployment.yaml
images:
  - name: nginx
    newTag: 1.25.3
  - name: ghcr.io/acme/app
    newName: ghcr.io/acme/app
    newTag: v1.3.0
"""


def test_kustomize_and_helm_values_pins_are_proposed(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "1.3.0"\n',
            "deploy/overlays/prod/kustomization.yaml": KUSTOMIZATION,
            "deploy/chart/values.yaml": (
                "image:\n  repository: ghcr.io/acme/app\n  tag: v1.3.0\n"
                "redis:\n  image:\n    repository: redis\n    tag: 7.2.0\n"
            ),
        },
        ("v1.3.0",),
    )
    out = adopt(root)

    assert [f.path for f in load_config(root).version_files] == ["pyproject.toml"]
    assert "deploy/overlays/prod/kustomization.yaml pins the last release" in out
    assert "deploy/chart/values.yaml pins the last release" in out
    # Each proposal, uncommented, moves exactly the project's image and nothing else.
    config = (root / "rcflow.toml").read_text()
    patterns = [
        line.removeprefix("# pattern = ").strip("'")
        for line in config.splitlines()
        if line.startswith("# pattern = ")
    ]
    values_pattern, kustomize_pattern = patterns  # in path order: deploy/chart, deploy/overlays
    kustomize = read_refs(VersionFileKind.PATTERN, "k", KUSTOMIZATION, kustomize_pattern)
    assert [(r.line, r.value) for r in kustomize] == [(8, "1.3.0")]
    values_text = (root / "deploy/chart/values.yaml").read_text()
    values = read_refs(VersionFileKind.PATTERN, "v", values_text, values_pattern)
    assert [(r.line, r.value) for r in values] == [(3, "1.3.0")]
    full_cycle(root, final="v1.4.0")


RELEASE_YML = """\
name: publish
on:
  push:
    tags: ['v*']
permissions:
  contents: read
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - run: echo "the project's own publishing"
"""


def test_an_existing_release_yml_is_left_alone(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "1.3.0"\n',
            ".github/workflows/release.yml": RELEASE_YML,
        },
        ("v1.3.0",),
    )
    out = adopt(root)

    assert (root / ".github/workflows/release.yml").read_text() == RELEASE_YML
    ours = (root / ".github/workflows/rcflow-release.yml").read_text()
    assert "written by `rcflow init`" in ours
    assert "gh workflow run rcflow-release.yml" in out
    # Again: nothing to do, the project's file still untouched.
    code, again, _ = cli(root, "init", "--yes", "--validate", "smoke=test -f feature.txt")
    assert code == 0 and "Already done" in again
    full_cycle(root, final="v1.4.0")


FUZZ = """\
on:
  schedule:
    - cron: '0 3 * * *'
  workflow_dispatch:
permissions:
  contents: read
jobs:
  fuzz:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        fuzz_test: [[FuzzA, FuzzB], [FuzzC]]
    steps:
      - run: echo fuzzing
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: fuzz-artifacts-${{ join(matrix.fuzz_test, '-') }}
          path: testdata/fuzz
"""

GHCR_MAKE = """\
on:
  push:
    tags: ['v*']
permissions:
  contents: read
jobs:
  image:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      packages: write
    steps:
      - uses: docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772 # v3.4.0
        with:
          registry: ghcr.io
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
      - run: make image-push
"""


def test_fuzz_matrix_names_and_a_ghcr_push_through_make(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "1.3.0"\n',
            ".github/workflows/fuzz.yml": FUZZ,
            ".github/workflows/image.yml": GHCR_MAKE,
            "Makefile": "image-push:\n\tdocker push ghcr.io/acme/app:$(TAG)\n",
        },
        ("v1.3.0",),
    )
    adopt(root)
    full_cycle(root, final="v1.4.0")

    # Without packages: write, the push through make is caught, and blocks only what it breaks.
    image = root / ".github/workflows/image.yml"
    image.write_text(GHCR_MAKE.replace("      packages: write\n", ""))
    git(root, "commit", "--quiet", "-am", "ci: drop packages: write")
    git(root, "push", "--quiet", "origin", "main")
    code, out, _ = cli(root, "doctor", "--json")
    assert code == 3
    [error] = [f for f in json.loads(out)["findings"] if f["severity"] == "error"]
    assert (error["id"], error["where"]) == (
        "workflow.packages-permission",
        ".github/workflows/image.yml:17",  # the `make image-push` line
    )
    # The workflow starts on the tags: it breaks rc and promote, not bump.
    code, out, _ = cli(root, "--dry-run", "bump", "minor")
    assert code == 0 and "not blocking bump: workflow.packages-permission" in out
