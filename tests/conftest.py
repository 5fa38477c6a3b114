"""Fixtures only: a hermetic environment, projects with a bare origin, the GitHub test server.
The helpers they build on are in tests/support (test modules import them from there).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ghserver import GitHubServer
from ghserver.fixtures import github_server, make_github_server  # noqa: F401

from tests.support import linters
from tests.support.on_github import GitHubProject, github_project
from tests.support.project import Project

if TYPE_CHECKING:
    from realservers.oidc import IndexFront, OidcIssuer
    from realservers.pypi import PypiServer


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Maintainer\n\temail = maintainer@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
        '[protocol "file"]\n\tallow = always\n',
        encoding="utf-8",
    )
    for key in list(os.environ):
        if key.startswith(("GIT_", "GITHUB_", "RCFLOW_")) or key in ("CI", "GH_TOKEN"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("LC_ALL", "C")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path).create()


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[Any]:
    count = 0

    def make(**kw: Any) -> Project:
        nonlocal count
        count += 1
        base = tmp_path / f"p{count}"
        base.mkdir()
        return Project(base).create(**kw)

    yield make


@pytest.fixture
def make_github_project(
    tmp_path: Path,
    make_github_server: Callable[..., GitHubServer],  # noqa: F811 - the fixture, imported above
    monkeypatch: pytest.MonkeyPatch,
) -> GitHubProject:
    """A project whose forge is a GitHub test server that reads its tags from the bare origin
    (see support.on_github.github_project). GITHUB_TOKEN is the server's token."""
    count = 0

    def make(
        config: str = "", *, files: dict[str, str] | None = None
    ) -> tuple[Project, GitHubServer]:
        nonlocal count
        count += 1
        base = tmp_path / f"gh{count}"
        base.mkdir()
        server = make_github_server(git_dir=base / "origin.git")
        monkeypatch.setenv("GITHUB_TOKEN", server.token)
        return github_project(base, server, config, files=files), server

    return make


# -- the package index servers (tests/realservers), for modules that name USER and PASSWORD ------


@pytest.fixture(scope="module")
def pypi(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PypiServer]:
    """A pypiserver for the requesting module, with the one user its USER and PASSWORD name."""
    from realservers.pypi import start_pypiserver

    user, password = request.module.USER, request.module.PASSWORD
    server = start_pypiserver(tmp_path_factory.mktemp("pypi"), {user: password})
    yield server
    server.stop()


@pytest.fixture
def front(request: pytest.FixtureRequest, pypi: PypiServer) -> Iterator[IndexFront]:
    """The trusted-publishing front of `pypi`: mints upload tokens for OIDC tokens."""
    from realservers.oidc import IndexFront

    auth = (request.module.USER, request.module.PASSWORD)
    with IndexFront(upstream=pypi.url, upstream_auth=auth).running() as server:
        yield server


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    """The OIDC issuer a GitHub Actions job would ask for its token."""
    from realservers.oidc import OidcIssuer

    with OidcIssuer().running() as server:
        yield server


@pytest.fixture(scope="session")
def zizmor() -> str:
    return linters.tool("zizmor")


@pytest.fixture(scope="session")
def actionlint() -> str:
    return linters.tool("actionlint")
