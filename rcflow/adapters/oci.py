"""Container registries over the OCI distribution HTTP API: resolve tags, retag a digest.

Promotion never rebuilds and never needs a docker daemon: the manifest recorded at `rc` is fetched
by digest and PUT, byte for byte and with its own media type, under the final tag (an image index
stays an index). Only manifests move; their blobs are already in the repository.

Authentication works as registries do it: a request without credentials first; on 401 the
`WWW-Authenticate` challenge says `Basic` (send the credentials) or `Bearer realm=…,service=…`
(ask the realm for a token with the scope `repository:NAME:pull[,push]`, with the credentials as
basic auth, or an `identitytoken` as an OAuth2 refresh token). Tokens are cached per scope.

Credentials for a registry host, first match wins (`credentials_for`):

1. `RCFLOW_REGISTRY_<HOST>_USERNAME` / `RCFLOW_REGISTRY_<HOST>_PASSWORD`, where `<HOST>` is the
   registry host upper-cased with every character outside A-Z and 0-9 replaced by `_`
   (`ghcr.io` → `RCFLOW_REGISTRY_GHCR_IO_PASSWORD`,
   `127.0.0.1:5000` → `RCFLOW_REGISTRY_127_0_0_1_5000_PASSWORD`; Docker Hub is `DOCKER_IO`);
2. `RCFLOW_REGISTRY_USERNAME` / `RCFLOW_REGISTRY_PASSWORD`, for every registry;
3. for `ghcr.io` only: `GITHUB_TOKEN` (username `GITHUB_ACTOR`; GHCR checks only the token);
4. the docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): the `auths`
   entry for the host — `auth` (base64 `user:password`), `username` + `password`, or
   `identitytoken`. Keys match with or without `https://` and a path; Docker Hub's
   `https://index.docker.io/v1/` counts for `docker.io`. Credential helpers (`credsStore`,
   `credHelpers`) are not run;
5. anonymous.

A password without a username gets the username `rcflow` (token-based registries ignore it).

Errors: `RegistryAccessError` (a `BlockedError`: credentials missing, refused, or not allowed to
push — nothing changed, the hint names the fix), `RegistryError` (an `EffectError`: transport
failures, unexpected answers, digests that do not match their bytes), `ConflictError` (a tag at
another digest, a recorded digest the repository no longer has). Messages are one line and never
contain a password or token.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from rcflow.errors import BlockedError, ConflictError, EffectError, UsageError
from rcflow.model.images import DOCKER_HUB, DOCKER_HUB_ALIASES, REPOSITORY_RE, TAG_RE
from rcflow.model.images import ImageRef as ImageRef  # parsed in the model, named here too
from rcflow.ports.registry import DOCKER_LIST, OCI_INDEX, Manifest, TagOutcome

if TYPE_CHECKING:
    import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})

# Digests (the grammar of reference.go) and the parameters of an auth challenge.
_DIGEST_RE = re.compile(r"(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})")
_CHALLENGE_PARAM_RE = re.compile(r'([A-Za-z_]+)=(?:"([^"]*)"|([^\s,]+))')


class RegistryError(EffectError):
    """A registry request failed or answered something rcflow cannot accept."""


class RegistryAccessError(BlockedError):
    """Credentials are missing, refused, or not allowed to do what the step needs."""


# --- references ------------------------------------------------------------------------------


def digest_of(raw: bytes, algorithm: str = "sha256") -> str:
    """The content digest (`sha256:<hex>`) of bytes, as registries compute it."""
    if algorithm not in ("sha256", "sha512"):
        raise RegistryError(f"unsupported digest algorithm {algorithm!r}")
    return f"{algorithm}:{hashlib.new(algorithm, raw).hexdigest()}"


# --- credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What to authenticate with; `source` names where it came from (for messages, not secrets)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    source: str = "anonymous"

    @property
    def anonymous(self) -> bool:
        return self.password is None and self.identity_token is None


ANONYMOUS = Credentials()


def host_env_prefix(host: str) -> str:
    """`ghcr.io` → `RCFLOW_REGISTRY_GHCR_IO` (the per-host variable names' prefix).

    Docker Hub is `DOCKER_IO`, the name users write, not its API host registry-1.docker.io.
    """
    host = "docker.io" if _canonical_host(host) == DOCKER_HUB else host
    return "RCFLOW_REGISTRY_" + re.sub(r"[^A-Z0-9]", "_", host.upper())


def default_docker_config(env: Mapping[str, str]) -> Path | None:
    """Where docker keeps its config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`."""
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    home = env.get("HOME")
    return Path(home) / ".docker" / "config.json" if home else None


def credentials_for(
    host: str, env: Mapping[str, str], docker_config_path: Path | None = None
) -> Credentials:
    """The credentials for a registry host, in the order the module docstring documents."""
    host = _canonical_host(host)
    for prefix in (host_env_prefix(host), "RCFLOW_REGISTRY"):
        password = env.get(f"{prefix}_PASSWORD")
        if password:
            username = env.get(f"{prefix}_USERNAME") or "rcflow"
            return Credentials(username, password, source=f"{prefix}_PASSWORD")
    if host == "ghcr.io" and env.get("GITHUB_TOKEN"):
        actor = env.get("GITHUB_ACTOR") or "rcflow"
        return Credentials(actor, env["GITHUB_TOKEN"], source="GITHUB_TOKEN")
    path = docker_config_path or default_docker_config(env)
    if path is not None and path.is_file():
        found = _docker_config_credentials(path, host)
        if found is not None:
            return found
    return ANONYMOUS


def _canonical_host(host: str) -> str:
    host = host.lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def _docker_config_credentials(path: Path, host: str) -> Credentials | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable docker config ({type(exc).__name__})") from None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        # Docker itself reduces each key to its host: `https://index.docker.io/v1/` → docker.io.
        key_host = urlsplit(key if "//" in key else f"//{key}").netloc
        if _canonical_host(key_host) != host or not isinstance(entry, dict):
            continue
        source = f"{path} ({key})"
        if entry.get("identitytoken"):
            return Credentials(identity_token=str(entry["identitytoken"]), source=source)
        if entry.get("auth"):
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, TypeError):
                raise UsageError(f"{source}: `auth` is not base64 user:password") from None
            if not sep:
                raise UsageError(f"{source}: `auth` is not base64 user:password")
            return Credentials(user, password, source=source)
        if entry.get("password"):
            return Credentials(entry.get("username") or "rcflow", entry["password"], source=source)
    return None


# --- the registry client ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Challenge:
    scheme: str  # "basic" or "bearer"
    params: Mapping[str, str]


def _parse_challenge(header: str) -> _Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() not in ("basic", "bearer"):
        return None
    params = {m[1].lower(): m[2] or m[3] for m in _CHALLENGE_PARAM_RE.finditer(rest)}
    return _Challenge(scheme.lower(), params)


Actions = tuple[str, ...]
PULL: Actions = ("pull",)
PUSH: Actions = ("pull", "push")


class Registry:
    """One registry host, one set of credentials; tokens cached per repository scope."""

    def __init__(
        self,
        host: str,
        credentials: Credentials = ANONYMOUS,
        *,
        insecure: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host = _canonical_host(host)
        self.credentials = credentials
        self.timeout = timeout
        # Plain HTTP only where nothing can listen in: loopback, or when explicitly asked for.
        self.secure = not (insecure or self.host.rsplit(":", 1)[0] in _LOOPBACK)
        self.base_url = f"{'https' if self.secure else 'http'}://{self.host}"
        self._challenge: _Challenge | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._session: requests.Session | None = None

    # The four operations promotion needs.

    def resolve(self, repo: str, tag: str) -> Manifest | None:
        """The manifest a tag points at, or None when the tag (or the repository) does not exist."""
        _check_tag(tag)
        response = self._send("GET", repo, PULL, f"manifests/{tag}", {"Accept": _ACCEPT})
        if response.status_code == 404:
            return None
        self._expect(response, (200,), f"resolve {repo}:{tag}")
        return self._manifest(response, f"{repo}:{tag}")

    def fetch(self, repo: str, digest: str) -> Manifest:
        """The manifest with this digest; ConflictError when the repository no longer has it."""
        _check_digest(digest)
        response = self._send("GET", repo, PULL, f"manifests/{digest}", {"Accept": _ACCEPT})
        if response.status_code == 404:
            raise ConflictError(f"{self.host}/{repo} has no manifest {digest} (deleted?)")
        self._expect(response, (200,), f"fetch {repo}@{digest}")
        manifest = self._manifest(response, f"{repo}@{digest}")
        if manifest.digest != digest:
            raise RegistryError(f"{self.host}/{repo}@{digest}: the registry sent other bytes")
        return manifest

    def put(self, repo: str, tag: str, manifest: Manifest) -> str:
        """Store the manifest's exact bytes under tag; returns the digest the registry reports."""
        _check_tag(tag)
        headers = {"Content-Type": manifest.media_type}
        response = self._send("PUT", repo, PUSH, f"manifests/{tag}", headers, manifest.raw)
        self._expect(response, (200, 201, 202), f"tag {repo}:{tag}")
        reported = response.headers.get("Docker-Content-Digest") or manifest.digest
        if reported != manifest.digest:
            raise RegistryError(
                f"{self.host}/{repo}:{tag}: the registry stored {reported}, not {manifest.digest}"
            )
        return reported

    def promote(
        self, repo: str, digest: str, tags: Sequence[str], *, movable: Collection[str] = ()
    ) -> list[TagOutcome]:
        """`promote_image` on this registry (the port's one call for a promotion)."""
        return promote_image(self, repo, digest, tags, movable=movable)

    def can_push(self, repo: str) -> None:
        """Prove the credentials may push to repo: start a blob upload, then cancel it.

        A token request alone proves little (token servers grant fewer actions than asked, without
        an error); the upload start is the first thing a push does, and it writes nothing.
        """
        response = self._send("POST", repo, PUSH, "blobs/uploads/", {"Content-Length": "0"})
        self._expect(response, (202,), f"start an upload to {repo}")
        location = response.headers.get("Location")
        if location:
            # Best effort, with the push token we hold: distribution wants the `delete` action to
            # cancel (which a releaser need not have), and an abandoned upload is purged anyway.
            scope = f"repository:{repo}:{','.join(PUSH)}"
            auth = self._authorization(scope, repo, PUSH, fresh=False)
            with contextlib.suppress(RegistryError):
                self._http("DELETE", urljoin(self.base_url + "/", location), headers=auth)

    # HTTP and authentication.

    def _send(
        self,
        method: str,
        repo: str,
        actions: Actions,
        path: str,
        headers: Mapping[str, str],
        data: bytes | None = None,
    ) -> requests.Response:
        """Send once with what auth we know; on 401 learn the challenge and send once more."""
        if not REPOSITORY_RE.fullmatch(repo):
            raise UsageError(f"invalid repository name {repo!r}")
        url = f"{self.base_url}/v2/{repo}/{path}"
        scope = f"repository:{repo}:{','.join(actions)}"
        for fresh in (False, True):
            auth = self._authorization(scope, repo, actions, fresh=fresh)
            response = self._http(method, url, headers={**headers, **auth}, data=data)
            if response.status_code != 401:
                if response.status_code == 403:
                    raise self._denied(repo, actions, "HTTP 403")
                return response
            challenge = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge is None:
                raise RegistryError(f"{self.host}: 401 without a usable WWW-Authenticate challenge")
            self._challenge = challenge
            if challenge.scheme == "basic" and self.credentials.anonymous:
                break
        reason = (self._challenge.params.get("error") if self._challenge else None) or "HTTP 401"
        raise self._denied(repo, actions, reason)

    def _authorization(
        self, scope: str, repo: str, actions: Actions, *, fresh: bool
    ) -> dict[str, str]:
        challenge = self._challenge
        if challenge is None:
            return {}
        creds = self.credentials
        if challenge.scheme == "basic":
            if creds.password is None:
                return {}
            raw = f"{creds.username or 'rcflow'}:{creds.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        cached = self._tokens.get(scope)
        if cached is None or fresh or cached[1] <= time.monotonic():
            cached = self._fetch_token(challenge, scope, repo, actions)
            self._tokens[scope] = cached
        return {"Authorization": f"Bearer {cached[0]}"}

    def _fetch_token(
        self, challenge: _Challenge, scope: str, repo: str, actions: Actions
    ) -> tuple[str, float]:
        """Ask the challenge's realm for a token (docker's token flow, or OAuth2 refresh)."""
        realm = challenge.params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("https", "http") or (parts.scheme == "http" and self.secure):
            raise RegistryError(f"{self.host}: refusing the token realm {realm!r} (not https)")
        service = challenge.params.get("service", "")
        creds = self.credentials
        if creds.identity_token is not None:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "service": service,
                "scope": scope,
                "client_id": "rcflow",
            }
            response = self._http("POST", realm, data=form)
        else:
            basic = None if creds.password is None else (creds.username or "rcflow", creds.password)
            params = {"service": service, "scope": scope}
            response = self._http("GET", realm, params=params, basic=basic)
        if response.status_code in (401, 403):
            raise self._denied(repo, actions, f"token server answered {response.status_code}")
        self._expect(response, (200,), "get a token")
        try:
            body = response.json()
            token = str(body.get("token") or body["access_token"])
            lifetime = float(body.get("expires_in") or 60)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RegistryError(f"{self.host}: the token server's answer has no token") from None
        # Renew a little early so a token never expires between our check and the request.
        return token, time.monotonic() + max(lifetime - 10.0, 1.0)

    def _http(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        basic: tuple[str, str] | None = None,
    ) -> requests.Response:
        import requests  # lazily: only promotion needs HTTP (DESIGN §13)

        if self._session is None:
            self._session = requests.Session()
            self._session.headers["User-Agent"] = "rcflow"
            self._session.trust_env = False  # no ~/.netrc credentials sent to registries
        try:
            return self._session.request(
                method,
                url,
                headers=dict(headers or {}),
                data=data,
                params=params,
                auth=basic,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise RegistryError(f"{self.host}: {method} failed: {type(exc).__name__}") from None

    # Answers.

    def _expect(self, response: requests.Response, ok: tuple[int, ...], what: str) -> None:
        if response.status_code not in ok:
            raise RegistryError(
                f"{self.host}: could not {what}: HTTP {response.status_code}"
                + _error_detail(response)
            )

    def _manifest(self, response: requests.Response, what: str) -> Manifest:
        raw = response.content
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_MEDIA_TYPES:
            # Some registries answer a generic type; the manifest names its own.
            try:
                media_type = str(json.loads(raw).get("mediaType", ""))
            except (ValueError, AttributeError):
                media_type = ""
        if media_type not in MANIFEST_MEDIA_TYPES:
            raise RegistryError(f"{self.host}/{what}: unsupported manifest type {media_type!r}")
        header = response.headers.get("Docker-Content-Digest")
        digest = digest_of(raw, header.split(":", 1)[0] if header else "sha256")
        if header and header != digest:
            raise RegistryError(
                f"{self.host}/{what}: the bytes are {digest}, the registry says {header}"
            )
        return Manifest(digest, media_type, raw)

    def _denied(self, repo: str, actions: Actions, reason: str) -> RegistryAccessError:
        verb = "push to" if "push" in actions else "pull from"
        target = f"{self.host}/{repo}"
        if self.credentials.anonymous:
            return RegistryAccessError(
                f"{target} needs credentials to {verb.split()[0]} ({reason}); none were found",
                hint=f"set {host_env_prefix(self.host)}_USERNAME and _PASSWORD, "
                "RCFLOW_REGISTRY_USERNAME and _PASSWORD, or run `docker login " + self.host + "`",
            )
        return RegistryAccessError(
            f"the credentials from {self.credentials.source} may not {verb} {target} ({reason})",
            hint=access_hint(self.host, repo, actions),
        )


_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)


def access_hint(host: str, repo: str, actions: Actions) -> str:
    """The fix for credentials that were refused (GHCR's two classic causes named)."""
    if host == "ghcr.io" and "push" in actions:
        return (
            "with GITHUB_TOKEN, give the job `permissions: packages: write`; a repository's token "
            f"cannot write another owner's packages (grant this repository write access in the "
            f"settings of package ghcr.io/{repo}, or use a token with write:packages)"
        )
    verb = "push" if "push" in actions else "pull"
    return f"check the password or token, and that it is allowed to {verb} {host}/{repo}"


def _error_detail(response: requests.Response) -> str:
    """The registry's first error code and message (never our request), kept to one line."""
    try:
        first = response.json()["errors"][0]
        text = f"{first.get('code', '')}: {first.get('message', '')}"
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    return " (" + " ".join(text.split())[:200] + ")"


def _check_tag(tag: str) -> None:
    if not TAG_RE.fullmatch(tag):
        raise UsageError(f"invalid image tag {tag!r}")


def _check_digest(digest: str) -> None:
    if not _DIGEST_RE.fullmatch(digest):
        raise UsageError(f"invalid manifest digest {digest!r}")


# --- promotion -------------------------------------------------------------------------------


Outcome = TagOutcome  # what promotion did for one tag


def promote_image(
    registry: Registry,
    repo: str,
    digest: str,
    tags: Sequence[str],
    *,
    movable: Collection[str] = (),
) -> list[Outcome]:
    """Point every tag at digest (the manifest recorded at `rc`), then prove each one does.

    Idempotent: a tag already at the digest is skipped. A tag at another digest is a conflict —
    unless it is in `movable` (e.g. `latest`), which exists to be moved. All tags are checked
    before the first PUT, so a conflict changes nothing. (Registries have no compare-and-swap on
    tags: a push between the check and the PUT is caught only by the final verification.)
    """
    _check_digest(digest)
    current = {tag: registry.resolve(repo, tag) for tag in tags}
    conflicts = [
        f"{tag} is at {found.digest}"
        for tag, found in current.items()
        if found is not None and found.digest != digest and tag not in movable
    ]
    if conflicts:
        raise ConflictError(
            f"{registry.host}/{repo}: {'; '.join(conflicts)}, not the promoted {digest}",
            hint="a final tag is never moved; find out who pushed it before deleting it",
            untouched=True,
        )
    outcomes: list[Outcome] = []
    manifest: Manifest | None = None
    for tag in tags:
        found = current[tag]
        target = f"{registry.host}/{repo}:{tag}"
        if found is not None and found.digest == digest:
            outcomes.append(Outcome(target, "skipped", digest))
            continue
        manifest = manifest or registry.fetch(repo, digest)
        registry.put(repo, tag, manifest)
        outcomes.append(Outcome(target, "tagged" if found is None else "moved", digest))
    for tag in tags:
        found = registry.resolve(repo, tag)
        if found is None or found.digest != digest:
            where = "missing" if found is None else f"at {found.digest}"
            raise RegistryError(f"{registry.host}/{repo}:{tag} is {where} after promotion")
    return outcomes
