"""Real servers for the artifact tests, started on 127.0.0.1 on free ports in a temp dir.

- `registry.start_registry`: Debian's CNCF distribution registry (`docker-registry serve`), with
  no auth, `htpasswd` auth, or `token` auth against `tokens.TokenServer` (our bearer token server,
  RS256 JWTs the registry verifies through its `rootcertbundle`);
- `pypi.start_pypiserver`: pypiserver from the venv, uploads/downloads/listing behind htpasswd;
- `images`: pushes test images (single manifests, multi-arch OCI indexes) over raw HTTP.

A missing binary skips the test on a developer machine and fails it in CI (`CI` set), where a
skipped artifact suite would read as green. `CI` is read at import time, before conftest's
hermetic fixture removes it from the environment.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

IN_CI = bool(os.environ.get("CI"))


def require_binary(name: str) -> str:
    """The binary's path; skip (developer machine) or fail (CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (tools/install-test-servers.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A port nothing listens on right now (the kernel picks it; servers bind it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A server subprocess with its output in a log file; stopped by `stop()` (idempotent)."""

    def __init__(self, argv: Sequence[str], log_path: Path, *, cwd: Path) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_listening(self, port: int, *, timeout: float = 15.0) -> None:
        """Return once the port accepts connections; fail with the server's log if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} did not listen on {port}: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
