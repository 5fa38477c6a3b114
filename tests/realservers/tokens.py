"""A bearer token server for the distribution registry's `auth: token` mode, in a thread.

It follows the distribution "token authentication" spec (the registry ships it as
docs/spec/auth/{token,jwt,oauth}.md): `GET /token?service=…&scope=repository:NAME:ACTIONS`
with basic auth (or none: anonymous), and the OAuth2 form `POST /token` with
`grant_type=refresh_token` (docker's `identitytoken`) or `grant_type=password`. It answers
`{"token", "access_token", "expires_in", "issued_at"}`; the token is an RS256 JWT with iss, sub,
aud (= service), exp, nbf, iat, jti and `access`, its header `kid` the libtrust fingerprint of the
signing key, which registry 2.8 matches against the keys of its `rootcertbundle` (it would also
take an `x5c` chain; the kid is what the spec requires).

Grants are the requested actions the user is allowed (`grants[repo]` or `grants["*"]`); like real
token servers, a request for more than that still succeeds with less.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SERVICE = "rcflow-test-registry"
ISSUER = "rcflow-test-token-server"


@dataclass
class User:
    password: str
    grants: dict[str, set[str]]  # repository (or "*") -> allowed actions


@dataclass
class TokenRequest:
    """One request the server answered (for assertions): who, what was asked, what was granted."""

    subject: str
    scopes: list[str]
    granted: list[dict[str, object]]
    status: int


def libtrust_key_id(public_key: rsa.RSAPublicKey) -> str:
    """docker/libtrust's key id: base32 of the first 240 bits of sha256(DER SPKI), in 4s."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass
class TokenServer:
    """Start with `start(dir)`; `realm` is the URL the registry's challenge names."""

    users: dict[str, User] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> username
    anonymous_grants: dict[str, set[str]] = field(default_factory=dict)
    requests: list[TokenRequest] = field(default_factory=list)
    cert_path: Path | None = None
    port: int = 0

    def start(self, directory: Path) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = libtrust_key_id(self._key.public_key())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self._key, hashes.SHA256())
        )
        self.cert_path = directory / "token-root.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                server._answer(self, self._basic_user(), query.get("scope", []))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                user: str | None = None
                if grant == "refresh_token":
                    user = server.refresh_tokens.get(form.get("refresh_token", [""])[0], "!")
                elif grant == "password":
                    user = server._check(
                        form.get("username", [""])[0], form.get("password", [""])[0]
                    )
                server._answer(self, user, form.get("scope", []))

            def _basic_user(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                username, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return server._check(username, password)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _check(self, username: str, password: str) -> str:
        """The username when the password matches; "!" (refused) otherwise."""
        user = self.users.get(username)
        return username if user is not None and user.password == password else "!"

    def _answer(
        self, handler: BaseHTTPRequestHandler, subject: str | None, scopes: list[str]
    ) -> None:
        scopes = [s for scope in scopes for s in scope.split()]
        if subject == "!":
            self.requests.append(TokenRequest("!", scopes, [], 401))
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", 'Basic realm="token"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        grants = self.anonymous_grants if subject is None else self.users[subject].grants
        access = [self._grant(scope, grants) for scope in scopes]
        access = [a for a in access if a["actions"]]
        token = self.mint(subject or "", access)
        self.requests.append(TokenRequest(subject or "", scopes, access, 200))
        body = json.dumps(
            {
                "token": token,
                "access_token": token,
                "expires_in": 300,
                "issued_at": dt.datetime.now(dt.UTC).isoformat(),
            }
        ).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _grant(scope: str, grants: dict[str, set[str]]) -> dict[str, object]:
        kind, name, actions = scope.split(":", 2)
        allowed = grants.get(name, grants.get("*", set()))
        wanted = [a for a in actions.split(",") if a in allowed]
        return {"type": kind, "name": name, "actions": wanted if kind == "repository" else []}

    def mint(self, subject: str, access: list[dict[str, object]]) -> str:
        """A signed token (also for test setup: push images without going through the flow)."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})
