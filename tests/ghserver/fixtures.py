"""pytest fixtures for the GitHub test server. In tests/conftest.py:

    from ghserver.fixtures import github_server, make_github_server  # noqa: F401

`github_server` is a started server for acme/app; `make_github_server(...)` takes the
constructor's arguments (e.g. `git_dir=` a bare origin) and may be called more than once. At
teardown each server's `mismatches` must be empty, or the test fails listing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import GitHubServer


def _check(servers: list[GitHubServer]) -> None:
    lines = [f"{s.base_url}: {m}" for s in servers for m in s.mismatches]
    if lines:
        pytest.fail(
            "the GitHub test server saw requests or gave responses that GitHub's OpenAPI "
            "description does not allow:\n  " + "\n  ".join(lines),
            pytrace=False,
        )


@pytest.fixture
def make_github_server() -> Iterator[Callable[..., GitHubServer]]:
    servers: list[GitHubServer] = []

    def make(*args: Any, **kwargs: Any) -> GitHubServer:
        server = GitHubServer(*args, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    _check(servers)


@pytest.fixture
def github_server(make_github_server: Callable[..., GitHubServer]) -> GitHubServer:
    return make_github_server()
