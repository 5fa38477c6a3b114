"""Makes the server's fixtures available to its own tests (tests/conftest.py may import them
for the whole suite in the same way)."""

from ghserver.fixtures import github_server, make_github_server  # noqa: F401
