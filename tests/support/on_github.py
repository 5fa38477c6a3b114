"""Projects whose forge is the GitHub test server (tests/ghserver)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ghserver import GitHubServer

from tests.support.project import Project

# The `make_github_project` fixture: (config, files=...) -> a project and its server.
GitHubProject = Callable[..., tuple[Project, GitHubServer]]


def github_config(server: GitHubServer) -> str:
    """The rcflow.toml lines that point a project at the server."""
    return (
        f'forge = "github"\ngithub_repository = "{server.full_name}"\n'
        f'github_api_url = "{server.base_url}"\n'
    )


def github_project(
    base: Path, server: GitHubServer, config: str = "", *, files: dict[str, str] | None = None
) -> Project:
    """A project in `base` on `server` (whose git_dir is base/origin.git): `config` follows the
    forge settings in rcflow.toml; `files` (path -> text) are committed with the first commit."""
    for rel, text in (files or {}).items():
        path = base / "work" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Project(base).create(config=github_config(server) + config)
