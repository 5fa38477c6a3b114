"""The CNCF distribution registry (Debian's `docker-registry`), one per call, in a temp dir."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from realservers import Process, free_port, require_binary
from realservers.tokens import ISSUER, SERVICE, TokenServer


@dataclass
class RegistryServer:
    host: str  # "127.0.0.1:PORT"
    process: Process

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def manifest_puts(self, repo: str) -> int:
        """Successful manifest PUTs to repo so far, counted in the registry's own access log."""
        pattern = rf'"PUT /v2/{re.escape(repo)}/manifests/\S+ HTTP/1\.1" 2\d\d '
        return len(re.findall(pattern, self.process.log()))

    def stop(self) -> None:
        self.process.stop()


def htpasswd_line(username: str, password: str, scheme: str = "-B") -> str:
    """An htpasswd entry: bcrypt by default (all the registry reads), at cost 4 to stay fast."""
    htpasswd = require_binary("htpasswd")
    cost = ["-C", "4"] if scheme == "-B" else []
    out = subprocess.run(
        [htpasswd, "-nb", scheme, *cost, username, password],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() + "\n"


def start_registry(
    directory: Path,
    *,
    htpasswd: dict[str, str] | None = None,
    tokens: TokenServer | None = None,
) -> RegistryServer:
    """Start `docker-registry serve` with filesystem storage under directory; wait until it listens.

    No auth by default; `htpasswd={user: password}` for basic auth, `tokens=` (a started
    TokenServer) for the bearer flow.
    """
    binary = require_binary("docker-registry")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd is not None:
        path = directory / "htpasswd"
        path.write_text("".join(htpasswd_line(u, p) for u, p in htpasswd.items()))
        auth = f"auth:\n  htpasswd:\n    realm: rcflow-test\n    path: {path}\n"
    elif tokens is not None:
        auth = (
            "auth:\n  token:\n"
            f"    realm: {tokens.realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
            f"    rootcertbundle: {tokens.cert_path}\n"
        )
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: rcflow-test-secret\n" + auth
    )
    process = Process([binary, "serve", str(config)], directory / "registry.log", cwd=directory)
    process.wait_listening(port)
    server = RegistryServer(f"127.0.0.1:{port}", process)
    # Listening is not serving yet on a slow machine: wait for the API's first answer.
    requests.get(f"{server.url}/v2/", timeout=10)
    return server
