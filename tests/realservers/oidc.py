"""Trusted publishing stand-ins, in threads on 127.0.0.1: the GitHub Actions OIDC token endpoint,
and a PyPI front (`/_/oidc/audience`, `/_/oidc/mint-token`) before the real pypiserver.

Both follow the documented APIs (docs.pypi.org "Trusted Publishers" internals and troubleshooting,
GitHub's `ACTIONS_ID_TOKEN_REQUEST_URL` flow):

- `OidcIssuer`: `GET <url>?…&audience=A` with `Authorization: bearer <request token>` →
  `{"value": <JWT>}`; the JWT carries the job's claims, `aud` = A and an `exp`. It is not signed
  (`alg: none`): the front below is the only verifier, and checks the claims, not a signature.
- `IndexFront`: answers the two OIDC routes; a matching, unexpired token for the audience "pypi"
  mints `pypi-<random>` (valid for `token_ttl` seconds); a refused one is the 422 PyPI answers
  (`{"message": "Token request failed", "errors": [{"code": …, "description": …}]}`) naming the
  claim that did not match. Every other request is proxied to pypiserver, with a minted token
  (user `__token__`) swapped for pypiserver's htpasswd credentials — and any other credentials
  dropped, so pypiserver refuses them on its own.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

AUDIENCE = "pypi"


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def job_claims(
    repository: str = "acme/demo",
    workflow: str = "release.yml",
    environment: str | None = "pypi",
) -> dict[str, Any]:
    claims = {
        "iss": "https://token.actions.githubusercontent.com",
        "repository": repository,
        "repository_owner": repository.split("/")[0],
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@refs/heads/main",
        "ref": "refs/heads/main",
    }
    if environment is not None:
        claims["environment"] = environment
    return claims


class _Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._httpd: ThreadingHTTPServer | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def base(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[Any]:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@dataclass
class OidcIssuer(_Server):
    """GitHub Actions' token endpoint for one job."""

    claims: dict[str, Any] = field(default_factory=job_claims)
    request_token: str = field(default_factory=lambda: "ghrt-" + secrets.token_hex(8))
    ttl: float = 300.0  # negative: the token it issues has already expired

    def __post_init__(self) -> None:
        _Server.__init__(self)

    @property
    def url(self) -> str:
        # GitHub's URL already has a query string; the client appends &audience=.
        return f"{self.base}/_apis/token?api-version=2.0"

    def env(self) -> dict[str, str]:
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                issuer.requests.append(("GET", self.path))
                if self.headers.get("Authorization") != f"bearer {issuer.request_token}":
                    _reply(self, 401, {"message": "Bad credentials"})
                    return
                query = parse_qs(urlsplit(self.path).query)
                audience = (query.get("audience") or [""])[0]
                now = int(time.time())
                token = jwt(
                    {**issuer.claims, "aud": audience, "iat": now, "exp": now + int(issuer.ttl)}
                )
                issuer.issued.append(token)
                _reply(self, 200, {"count": 1, "value": token})

        return Handler

    issued: list[str] = field(default_factory=list)


@dataclass
class Publisher:
    """A trusted publisher as configured on PyPI for one project."""

    repository: str = "acme/demo"
    workflow: str = "release.yml"
    environment: str | None = "pypi"


@dataclass
class IndexFront(_Server):
    """PyPI's OIDC routes before a real pypiserver (upstream, with its htpasswd credentials)."""

    upstream: str = ""
    upstream_auth: tuple[str, str] = ("", "")
    publisher: Publisher = field(default_factory=Publisher)
    token_ttl: float = 900.0
    minted: dict[str, float] = field(default_factory=dict)  # token → expiry
    refusals: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        _Server.__init__(self)

    @property
    def url(self) -> str:
        return f"{self.base}/"

    @property
    def simple_url(self) -> str:
        return f"{self.base}/simple/"

    def mint(self, token: str) -> tuple[int, dict[str, Any]]:
        try:
            claims = claims_of(token)
        except (IndexError, ValueError):
            return 422, _refused("invalid-token", "malformed or invalid token")
        if claims.get("aud") != AUDIENCE:
            return 422, _refused("invalid-token", "valid token, but the audience is not pypi")
        if float(claims.get("exp", 0)) <= time.time():
            return 422, _refused("invalid-token", "Signature has expired")
        p = self.publisher
        checks = [
            ("repository", claims.get("repository") == p.repository),
            (
                "job_workflow_ref",
                str(claims.get("job_workflow_ref", "")).startswith(
                    f"{p.repository}/.github/workflows/{p.workflow}@"
                ),
            ),
            ("environment", p.environment is None or claims.get("environment") == p.environment),
        ]
        for claim, ok in checks:
            if not ok:
                return 422, _refused(
                    "invalid-publisher",
                    "valid token, but no corresponding publisher "
                    f"(Check failed for required claim '{claim}')",
                )
        minted = "pypi-" + secrets.token_urlsafe(24)
        self.minted[minted] = time.time() + self.token_ttl
        return 200, {"success": True, "token": minted, "expires": int(self.minted[minted])}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                front.requests.append(("GET", self.path))
                if self.path == "/_/oidc/audience":
                    _reply(self, 200, {"audience": AUDIENCE})
                    return
                self._proxy("GET", b"")

            def do_POST(self) -> None:
                front.requests.append(("POST", self.path))
                body = self._body()
                if self.path == "/_/oidc/mint-token":
                    try:
                        token = json.loads(body)["token"]
                    except (ValueError, KeyError, TypeError):
                        _reply(self, 422, _refused("invalid-payload", "bad payload"))
                        return
                    status, answer = front.mint(str(token))
                    if status != 200:
                        front.refusals.append(answer)
                    _reply(self, status, answer)
                    return
                self._proxy("POST", body)

            def _proxy(self, method: str, body: bytes) -> None:
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "accept", "host")
                }
                auth = None
                if self._minted_token_valid():
                    auth = front.upstream_auth
                answer = requests.request(
                    method,
                    front.upstream.rstrip("/") + self.path,
                    headers=headers,
                    data=body,
                    auth=auth,
                    allow_redirects=False,
                    timeout=60,
                )
                self.send_response(answer.status_code)
                for key in ("Content-Type", "Location", "WWW-Authenticate"):
                    if key in answer.headers:
                        self.send_header(key, answer.headers[key])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def _minted_token_valid(self) -> bool:
                header = self.headers.get("Authorization") or ""
                if not header.startswith("Basic "):
                    return False
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                expiry = front.minted.get(password)
                return user == "__token__" and expiry is not None and expiry > time.time()

        return Handler


def _refused(code: str, description: str) -> dict[str, Any]:
    return {
        "message": "Token request failed",
        "errors": [{"code": code, "description": description}],
    }
