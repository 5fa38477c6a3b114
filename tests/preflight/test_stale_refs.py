"""Stale references after a move: real repositories mixing true references with look-alikes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from rcflow.errors import CommandError
from rcflow.preflight import stale_refs

CURRENT = "new-org/repo"
PREVIOUS = ["old-org/repo"]
ALLOW = ["github.com/old-org/repo/blob/v1/LICENSE"]

WORKFLOW = """\
name: release
on:
  push:
    tags: ["v*"]
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: old-org/repo/.github/actions/x@v1
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ghcr.io/old-org/app:${{ github.ref_name }}
      - run: docker push docker.io/old-org/app:latest
      - run: docker push quay.io/old-org/app:latest
"""

README = """\
# repo
[![CI](https://github.com/old-org/repo/actions/workflows/ci.yml/badge.svg)](https://github.com/old-org/repo/actions)

    git clone https://github.com/Old-Org/Repo.git

Images are mirrored to quay.io/old-org/app and docker.io/old-org/app.
The entry point is src/old-org/repo.py; see docs/old-org-repo.md.
Tools: github.com/old-org/repo-tools; history: github.com/old-org/repository.
We now live at https://github.com/new-org/repo.
License: https://github.com/old-org/repo/blob/v1/LICENSE
    curl -fsSL https://raw.githubusercontent.com/old-org/repo/main/install.sh | sh
Docs: https://old-org.github.io/repo/
    docker pull ghcr.io/old-org/app:1.0
"""

FILES = {
    ".github/workflows/release.yml": WORKFLOW,
    "README.md": README,
    "go.mod": "module github.com/old-org/repo/v2\n\ngo 1.22\n",
    "deploy/kustomization.yaml": "resources:\n  - github.com/old-org/repo//deploy?ref=v1\n",
    "docker-compose.yml": "services:\n  app:\n    image: old-org/app:1.0\n"
    "  mirror:\n    image: ghcr.io/old-org/app:1.0\n",
    "src/old-org/repo.py": '"""Lives at src/old-org/repo.py."""\n',
}

EXPECTED = [
    ("stale-ref.action", "error", ".github/workflows/release.yml:10"),
    ("stale-ref.ghcr", "error", ".github/workflows/release.yml:19"),
    ("stale-ref.github", "warning", "README.md:2"),
    ("stale-ref.github", "warning", "README.md:4"),
    ("stale-ref.raw", "warning", "README.md:11"),
    ("stale-ref.pages", "warning", "README.md:12"),
    ("stale-ref.ghcr", "warning", "README.md:13"),
    ("stale-ref.github", "warning", "deploy/kustomization.yaml:2"),
    ("stale-ref.ghcr", "error", "docker-compose.yml:5"),
    ("stale-ref.github", "warning", "go.mod:1"),
]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    git(root, "add", "--", *files)
    git(root, "commit", "-q", "-m", "fixture")
    return root


def moved_repo(root: Path, old: str = "old-org") -> Path:
    def rename(text: str) -> str:
        return text if old == "old-org" else re.sub("old-org", old, text, flags=re.I)

    files: dict[str, str | bytes] = {rename(name): rename(text) for name, text in FILES.items()}
    files["assets/logo.bin"] = b"\x89PNG\0\0" + f"github.com/{old}/repo\n".encode()
    make_repo(root, files)
    (root / "notes.txt").write_text(f"untracked: github.com/{old}/repo\n", encoding="utf-8")
    return root


def summary(found: list[stale_refs.Finding]) -> list[tuple[str, str, str | None]]:
    return [(f.id, f.severity, f.where) for f in found]


def test_true_references_are_found_and_look_alikes_are_not(tmp_path: Path) -> None:
    root = moved_repo(tmp_path / "repo")
    found = stale_refs.findings(root, CURRENT, PREVIOUS, allow=ALLOW)
    assert summary(found) == EXPECTED


def test_allow_listed_text_is_the_only_difference(tmp_path: Path) -> None:
    root = moved_repo(tmp_path / "repo")
    found = stale_refs.findings(root, CURRENT, PREVIOUS)
    assert summary(found) == [
        *EXPECTED[:4],
        ("stale-ref.github", "warning", "README.md:10"),
        *EXPECTED[4:],
    ]


def test_clean_twin_has_no_findings(tmp_path: Path) -> None:
    root = moved_repo(tmp_path / "repo", old="new-org")
    assert stale_refs.findings(root, CURRENT, PREVIOUS, allow=ALLOW) == []


def test_allow_listing_a_previous_name_silences_it(tmp_path: Path) -> None:
    root = moved_repo(tmp_path / "repo")
    assert stale_refs.findings(root, CURRENT, PREVIOUS, allow=["Old-Org/Repo"]) == []
    # another previous name is still reported
    (root / "CONTRIBUTING.md").write_text("Fork github.com/older/repo.\n", encoding="utf-8")
    git(root, "add", "CONTRIBUTING.md")
    found = stale_refs.findings(root, CURRENT, [*PREVIOUS, "older/repo"], allow=["old-org/repo"])
    assert summary(found) == [("stale-ref.github", "warning", "CONTRIBUTING.md:1")]


def test_message_names_the_stale_text_and_fix_the_replacement(tmp_path: Path) -> None:
    root = moved_repo(tmp_path / "repo")
    by_where = {f.where: f for f in stale_refs.findings(root, CURRENT, PREVIOUS, allow=ALLOW)}
    action = by_where[".github/workflows/release.yml:10"]
    assert "old-org/repo/.github/actions/x@v1" in action.message
    assert "new-org/repo/.github/actions/x@v1" in action.fix
    ghcr = by_where[".github/workflows/release.yml:19"]
    assert "ghcr.io/old-org/app" in ghcr.message
    assert "ghcr.io/new-org/app" in ghcr.fix
    clone = by_where["README.md:4"]
    assert "github.com/Old-Org/Repo" in clone.message
    assert "github.com/new-org/repo" in clone.fix
    pages = by_where["README.md:12"]
    assert "new-org.github.io/repo" in pages.fix
    badge = by_where["README.md:2"]  # two identical references on one line: one finding
    assert badge.message.count("github.com/old-org/repo") == 1


@pytest.mark.parametrize(
    ("line", "stale"),
    [
        ("https://github.com/old-org/repo", True),
        ("https://github.com/old-org/repo.", True),
        ("https://github.com/old-org/repo.git", True),
        ("git@github.com:old-org/repo.git", True),
        ("ssh://git@github.com/old-org/repo.git", True),
        ("https://www.github.com/old-org/repo", True),
        ("(https://github.com/old-org/repo)", True),
        ('url = "https://github.com/old-org/repo"', True),
        ("https://github.com/old-org/repo#readme", True),
        ("https://github.com/old-org/repo?tab=readme", True),
        ("go install github.com/old-org/repo@latest", True),
        ("GITHUB.COM/OLD-ORG/REPO", True),
        ("https://github.com/old-org/repo.js", False),
        ("https://github.com/old-org/repo.github", False),
        ("https://github.com/old-org/repo_two", False),
        ("https://github.com/old-org/repo-tools", False),
        ("https://github.com/old-org/repository", False),
        ("https://github.com/my-old-org/repo", False),
        ("https://notgithub.com/old-org/repo", False),
        ("https://github.com/old-org/repo2", False),
        ("old-org/repo", False),
        ("https://raw.githubusercontent.com/old-org/repository/main/x", False),
        ("https://my-old-org.github.io/repo", False),
        ("https://old-org.github.io/repo-docs", False),
        ("image: ghcr.io/old-org-two/app", False),
        ("image: notghcr.io/old-org/app", False),
        ("uses: old-org/repo-action@v1", False),
        ("# old-org/repo@v1 without uses", False),
    ],
)
def test_reference_boundaries(tmp_path: Path, line: str, stale: bool) -> None:
    root = make_repo(tmp_path / "repo", {"NOTES": line + "\n"})
    assert bool(stale_refs.findings(root, CURRENT, PREVIOUS)) is stale


def test_rename_within_the_owner_keeps_its_packages(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo",
        {"Dockerfile": "FROM ghcr.io/org/base:1\n# https://github.com/org/old-repo\n"},
    )
    found = stale_refs.findings(root, "org/repo", ["org/old-repo"])
    assert summary(found) == [("stale-ref.github", "warning", "Dockerfile:2")]


def test_current_name_among_previous_names_is_ignored(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"README.md": "https://github.com/new-org/repo\n"})
    assert stale_refs.findings(root, CURRENT, ["New-Org/Repo"]) == []


def test_odd_paths_and_staged_files(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo",
        {"docs/a file\twith tab.md": "x\ngithub.com/old-org/repo\n", "ünïcode.txt": "x\n"},
    )
    (root / "ünïcode.txt").write_text("x\ny\nghcr.io/old-org/app\n", encoding="utf-8")
    (root / "staged.yml").write_text("image: ghcr.io/old-org/app\n", encoding="utf-8")
    git(root, "add", "staged.yml")
    found = stale_refs.findings(root, CURRENT, PREVIOUS)
    assert summary(found) == [
        ("stale-ref.github", "warning", "docs/a file\twith tab.md:2"),
        ("stale-ref.ghcr", "error", "staged.yml:1"),
        ("stale-ref.ghcr", "warning", "ünïcode.txt:3"),
    ]


def test_no_previous_names_means_no_findings(tmp_path: Path) -> None:
    assert stale_refs.findings(tmp_path, CURRENT, []) == []


def test_outside_a_repository_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        stale_refs.findings(tmp_path, CURRENT, PREVIOUS)


def test_malformed_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not owner/repo"):
        stale_refs.findings(tmp_path, CURRENT, ["just-a-name"])
