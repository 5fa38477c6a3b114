"""Python package indexes: publish each dist file exactly once, decided by asking the index.

`publish` reads what the index already holds for the project (the simple API: PEP 691 JSON when
the index offers it, else PEP 503 HTML with `#sha256=` fragments; a file listed without a hash is
downloaded and hashed), skips files that are there with the same sha256, refuses — before
uploading anything — when a file is there with another sha256 (a published file is never replaced
and never re-cut as `.postN`), uploads the missing ones through the legacy upload API (the
multipart `:action=file_upload` form twine sends), then verifies every file's sha256 as the index
reports it.

Credentials: the username (default `__token__`, PyPI's username for API tokens) and the password
or API token, which the caller reads from an environment variable (`RCFLOW_INDEX_PASSWORD` unless
configured otherwise) and names in messages. They are sent to the upload URL, and to the simple
API only when it answers 401 and lives on the same scheme://host:port as the upload URL.

Trusted publishing (`TrustedPublisher`, at the end): no stored password; the upload token is minted
from the GitHub Actions job's OIDC token when the first authenticated request needs it.

Errors: `IndexAccessError` (a `BlockedError`: credentials missing or refused), `PackageIndexError`
(an `EffectError`: transport failures and unexpected answers), `ConflictError` (a file already on
the index with other bytes), `UsageError` (a path that is not a readable wheel or sdist). Messages
are one line and never contain the password.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import json
import re
import tarfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from rcflow.errors import BlockedError, ConflictError, EffectError, UsageError
from rcflow.model.registries import normalize
from rcflow.ports.registry import FileOutcome

if TYPE_CHECKING:
    import requests

PASSWORD_ENV = "RCFLOW_INDEX_PASSWORD"  # noqa: S105 - a variable name, not a password
TOKEN_USERNAME = "__token__"  # noqa: S105 - PyPI's fixed username for API tokens

_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = f"{_SIMPLE_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


class PackageIndexError(EffectError):
    """An index request failed or answered something rcflow cannot accept."""


class IndexAccessError(BlockedError):
    """The index wants credentials that are missing, or refused the ones given."""


# --- dist files ------------------------------------------------------------------------------

# Core metadata fields the upload form carries besides the required ones (twine's names).
_SINGLE_FIELDS = {
    "Summary": "summary",
    "Home-page": "home_page",
    "Download-URL": "download_url",
    "Author": "author",
    "Author-email": "author_email",
    "Maintainer": "maintainer",
    "Maintainer-email": "maintainer_email",
    "License": "license",
    "License-Expression": "license_expression",
    "Keywords": "keywords",
    "Requires-Python": "requires_python",
    "Description-Content-Type": "description_content_type",
}
_MULTI_FIELDS = {
    "Classifier": "classifiers",
    "Requires-Dist": "requires_dist",
    "Provides-Dist": "provides_dist",
    "Obsoletes-Dist": "obsoletes_dist",
    "Requires-External": "requires_external",
    "Project-URL": "project_urls",
    "Provides-Extra": "provides_extras",
    "Platform": "platform",
    "Supported-Platform": "supported_platform",
    "Dynamic": "dynamic",
    "License-File": "license_files",
}


@dataclass(frozen=True)
class DistFile:
    """A wheel or sdist with the metadata its upload needs, read from the file itself."""

    path: Path
    name: str
    version: str
    filetype: Literal["bdist_wheel", "sdist"]
    pyversion: str  # the wheel's python tag ("py3"), "source" for an sdist
    metadata_version: str
    sha256: str
    extra_fields: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def project(self) -> str:
        return normalize(self.name)

    @classmethod
    def read(cls, path: Path) -> DistFile:
        """Read METADATA (wheel) or PKG-INFO (sdist); UsageError if it is neither."""
        name = path.name
        try:
            if name.endswith(".whl"):
                parts = name[: -len(".whl")].split("-")
                if len(parts) not in (5, 6):
                    raise UsageError(f"{path}: not a wheel file name")
                filetype: Literal["bdist_wheel", "sdist"] = "bdist_wheel"
                pyversion = parts[-3]
                raw = _wheel_metadata(path)
            elif name.endswith((".tar.gz", ".zip")):
                filetype, pyversion = "sdist", "source"
                raw = _sdist_metadata(path)
            else:
                raise UsageError(f"{path}: not a wheel (.whl) or sdist (.tar.gz, .zip)")
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
            raise UsageError(f"{path}: cannot read ({type(exc).__name__})") from None
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        required = [message.get(key) for key in ("Metadata-Version", "Name", "Version")]
        if not all(required):
            raise UsageError(f"{path}: metadata lacks Metadata-Version, Name or Version")
        metadata_version, project, version = (str(value) for value in required)
        if not normalize(name).startswith(normalize(project) + "-"):
            raise UsageError(f"{path}: the file name does not match the project {project!r}")
        return cls(
            path=path,
            name=project,
            version=version,
            filetype=filetype,
            pyversion=pyversion,
            metadata_version=metadata_version,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            extra_fields=_form_fields(message),
        )


def _wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        found = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if len(found) != 1:
            raise UsageError(f"{path}: expected one *.dist-info/METADATA, found {len(found)}")
        return archive.read(found[0])


def _sdist_metadata(path: Path) -> bytes:
    """The top directory's PKG-INFO (sdists may carry others, e.g. in an egg-info dir)."""
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            found = [n for n in archive.namelist() if re.fullmatch(r"[^/]+/PKG-INFO", n)]
            if len(found) == 1:
                return archive.read(found[0])
    else:
        with tarfile.open(path, "r:gz") as archive:
            members = [m for m in archive.getmembers() if re.fullmatch(r"[^/]+/PKG-INFO", m.name)]
            handle = archive.extractfile(members[0]) if len(members) == 1 else None
            if handle is not None:
                return handle.read()
    raise UsageError(f"{path}: no PKG-INFO in the sdist's top directory")


def _form_fields(message: email.message.Message) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    for header, value in message.items():
        key = _SINGLE_FIELDS.get(header) or _MULTI_FIELDS.get(header)
        if key:
            fields.append((key, str(value)))
    body = message.get_payload()
    description = message.get("Description") or (body if isinstance(body, str) else "")
    if description.strip():
        fields.append(("description", str(description)))
    return tuple(fields)


# --- the index client ------------------------------------------------------------------------


class _Links(HTMLParser):
    """The `<a href>`s of a PEP 503 project page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


@dataclass(frozen=True)
class IndexFile:
    """A file the index lists: its URL, and its sha256 when the listing gives one."""

    url: str
    sha256: str | None


def parse_project_page(content_type: str, body: bytes, page_url: str) -> dict[str, IndexFile]:
    """Filename → IndexFile, from a PEP 691 JSON or PEP 503 HTML project page."""
    files: dict[str, IndexFile] = {}
    if content_type.split(";")[0].strip() == _SIMPLE_JSON:
        for entry in json.loads(body).get("files", []):
            digest = (entry.get("hashes") or {}).get("sha256")
            url = urljoin(page_url, entry["url"])
            files[entry["filename"]] = IndexFile(url, digest)
        return files
    links = _Links()
    links.feed(body.decode("utf-8", errors="replace"))
    for href in links.hrefs:
        url, fragment = urldefrag(urljoin(page_url, href))
        algorithm, _, value = fragment.partition("=")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        files[filename] = IndexFile(url, value if algorithm == "sha256" and value else None)
    return files


class PackageIndex:
    """One index: where uploads go, where its simple API is, and who uploads."""

    def __init__(
        self,
        upload_url: str,
        simple_url: str,
        username: str = TOKEN_USERNAME,
        password: str | None = None,
        *,
        password_source: str = PASSWORD_ENV,
        timeout: float = 120.0,
        minter: Callable[[], str] | None = None,
    ) -> None:
        for url in (upload_url, simple_url):
            parts = urlsplit(url)
            local = parts.hostname in ("127.0.0.1", "localhost", "::1")
            if parts.scheme != "https" and not (parts.scheme == "http" and local):
                raise UsageError(f"index URL {url!r}: https only (plain http on loopback)")
        self.upload_url = upload_url
        self.simple_url = simple_url.rstrip("/") + "/"
        self.username = username
        self.password_source = password_source
        self.timeout = timeout
        self._password = password
        # Trusted publishing: the upload token is minted when a request first needs it.
        self._minter = minter
        self._session: requests.Session | None = None
        self._reads_need_auth = False

    def __repr__(self) -> str:
        return f"PackageIndex({self.upload_url!r}, {self.simple_url!r}, {self.username!r})"

    def files(self, project: str) -> dict[str, str]:
        """Filename → sha256 of every file the index holds for project (any version).

        Skip-existing is decided per file name, and file names carry the version, so no version
        filter is needed (nor PEP 440 parsing to apply one).
        """
        page_url = urljoin(self.simple_url, normalize(project) + "/")
        response = self._get(page_url, {"Accept": _ACCEPT})
        if response.status_code == 404:
            return {}
        self._expect(response, (200,), f"list {normalize(project)}")
        try:
            listed = parse_project_page(
                response.headers.get("Content-Type", ""), response.content, response.url
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            host = urlsplit(page_url).netloc
            raise PackageIndexError(f"{host}: unreadable project page for {project}") from None
        return {name: f.sha256 or self._hash_download(name, f.url) for name, f in listed.items()}

    def upload(self, dist: DistFile) -> Literal["uploaded", "exists"]:
        """Upload one file; "exists" when the index says it already has that file name."""
        fields: list[tuple[str, str]] = [
            (":action", "file_upload"),
            ("protocol_version", "1"),
            ("name", dist.name),
            ("version", dist.version),
            ("filetype", dist.filetype),
            ("pyversion", dist.pyversion),
            ("metadata_version", dist.metadata_version),
            ("sha256_digest", dist.sha256),
            *dist.extra_fields,
        ]
        with dist.path.open("rb") as content:
            response = self._post(fields, (dist.filename, content))
        if response.status_code in (200, 201):
            return "uploaded"
        # pypiserver answers 409; PyPI 400 "File already exists" (the text is its documented API).
        if response.status_code == 409 or (
            response.status_code == 400 and "already exist" in _reason(response).lower()
        ):
            return "exists"
        self._expect(response, (), f"upload {dist.filename}")
        raise AssertionError("unreachable")  # _expect raised

    def publish(self, paths: Sequence[Path]) -> list[FileOutcome]:
        """`publish` to this index (the port's one call for a publication)."""
        return publish(self, paths)

    def can_upload(self) -> None:
        """Prove the credentials may upload, uploading nothing.

        An upload form without a file: indexes authenticate before they validate the form
        (pypiserver: 401/403, then 400 "Missing 'content'"; PyPI: 403, then 400), so 400 means
        the credentials were accepted. It cannot prove per-project rights (a PyPI token scoped
        to another project passes here and fails at the upload).
        """
        response = self._post([(":action", "file_upload"), ("protocol_version", "1")], None)
        if response.status_code not in (200, 201, 400):
            self._expect(response, (), "check the upload credentials")

    # HTTP.

    def _post(
        self, fields: Sequence[tuple[str, str]], content: tuple[str, object] | None
    ) -> requests.Response:
        parts: list[tuple[str, tuple[str | None, object]]] = [(k, (None, v)) for k, v in fields]
        if content is not None:
            parts.append(("content", (content[0], content[1])))
        return self._request("POST", self.upload_url, files=parts, authenticate=True)

    def _get(self, url: str, headers: Mapping[str, str]) -> requests.Response:
        """GET, with credentials only once the index asked for them (and only to its own host)."""
        same_origin = self._same_origin(url)
        known = self._reads_need_auth and same_origin
        response = self._request("GET", url, headers=headers, authenticate=known)
        if response.status_code == 401 and same_origin and not known:
            self._reads_need_auth = True
            response = self._request("GET", url, headers=headers, authenticate=True)
        return response

    def _same_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.upload_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        files: object = None,
        authenticate: bool,
    ) -> requests.Response:
        import requests  # lazily: only publishing needs HTTP (DESIGN §13)

        if self._session is None:
            self._session = requests.Session()
            self._session.headers["User-Agent"] = "rcflow"
            self._session.trust_env = False  # no ~/.netrc credentials sent to indexes
        auth = None
        if authenticate and self._password is None and self._minter is not None:
            self._password = self._minter()
        if authenticate and self._password is not None:
            auth = (self.username, self._password)
        try:
            return self._session.request(
                method,
                url,
                headers=dict(headers or {}),
                files=files,  # type: ignore[arg-type]
                auth=auth,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            host = urlsplit(url).netloc
            raise PackageIndexError(f"{host}: {method} failed: {type(exc).__name__}") from None

    def _hash_download(self, filename: str, url: str) -> str:
        """The sha256 of a file the listing gave no hash for: download it and hash it."""
        response = self._get(url, {})
        self._expect(response, (200,), f"download {filename}")
        return hashlib.sha256(response.content).hexdigest()

    def _expect(self, response: requests.Response, ok: tuple[int, ...], what: str) -> None:
        status = response.status_code
        if status in ok:
            return
        host = urlsplit(response.url or self.upload_url).netloc
        if status in (401, 403):
            if self._password is None:
                raise IndexAccessError(
                    f"{host} needs credentials to {what} (HTTP {status}); none were given",
                    hint=f"set {self.password_source} (and the username, unless it is a token)",
                )
            raise IndexAccessError(
                f"{host} refused the credentials from {self.password_source} "
                f"(user {self.username}) to {what} (HTTP {status})",
                hint="the trusted publisher may not upload this project: check it on the index"
                if self._minter is not None
                else f"check {self.password_source}, and that the account may upload",
            )
        raise PackageIndexError(f"{host}: could not {what}: HTTP {status} {_reason(response)}")


def _reason(response: requests.Response) -> str:
    """The index's own words, one line (PyPI: in the status line; pypiserver: in the body)."""
    text = response.reason or ""
    if response.text and len(response.text) < 2000 and "<" not in response.text:
        text = f"{text} {response.text}"
    return " ".join(text.split())[:200]


# --- publishing ------------------------------------------------------------------------------


Outcome = FileOutcome  # what publishing did with one file


def publish(
    index: PackageIndex,
    paths: Sequence[Path],
    *,
    verify_timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Upload what the index lacks, skip what it has, refuse what it has with other bytes.

    Every conflict is found before the first upload, so a conflict changes nothing. Verification
    polls for up to `verify_timeout` seconds: PyPI's simple pages are served from a CDN that can
    lag a few seconds behind an upload.
    """
    dists = [DistFile.read(path) for path in paths]
    names = [d.filename for d in dists]
    if len(set(names)) != len(names):
        raise UsageError("the same file name is listed twice: " + ", ".join(sorted(names)))
    on_index = {project: index.files(project) for project in {d.project for d in dists}}
    conflicts = [
        _conflict(d, on_index[d.project][d.filename])
        for d in dists
        if on_index[d.project].get(d.filename, d.sha256) != d.sha256
    ]
    if conflicts:
        raise ConflictError("; ".join(conflicts), hint=_CONFLICT_HINT, untouched=True)
    outcomes: list[Outcome] = []
    for dist in dists:
        if dist.filename in on_index[dist.project]:
            outcomes.append(Outcome(dist.filename, "skipped", dist.sha256))
            continue
        if index.upload(dist) == "exists":
            # Someone uploaded it since we looked: fine if it is the same file.
            found = index.files(dist.project).get(dist.filename)
            if found != dist.sha256:
                raise ConflictError(_conflict(dist, found or "unknown"), hint=_CONFLICT_HINT)
            outcomes.append(Outcome(dist.filename, "skipped", dist.sha256))
            continue
        outcomes.append(Outcome(dist.filename, "uploaded", dist.sha256))
    _verify(index, dists, verify_timeout, sleep)
    return outcomes


_CONFLICT_HINT = "a published file is never replaced: release a new version instead"


def _conflict(dist: DistFile, found: str) -> str:
    return f"the index has {dist.filename} with sha256 {found}, not {dist.sha256}"


def _verify(
    index: PackageIndex,
    dists: Sequence[DistFile],
    timeout: float,
    sleep: Callable[[float], None],
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listed = {project: index.files(project) for project in {d.project for d in dists}}
        missing = []
        for dist in dists:
            found = listed[dist.project].get(dist.filename)
            if found is None:
                missing.append(dist.filename)
            elif found != dist.sha256:
                raise ConflictError(_conflict(dist, found), hint=_CONFLICT_HINT)
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise PackageIndexError(
                f"uploaded but not listed by the index after {timeout:.0f}s: {', '.join(missing)}"
            )
        sleep(1.0)


# --- trusted publishing ----------------------------------------------------------------------

OIDC_URL_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL"
OIDC_TOKEN_ENV = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable name
TRUSTED_SOURCE = "the token minted by trusted publishing"
# The claims a GitHub trusted publisher is matched on, as the job's OIDC token spells them.
_PUBLISHER_CLAIMS = ("repository", "job_workflow_ref", "environment", "repository_owner")


class TrustedPublisher:
    """PyPI's trusted publishing exchange, from inside a GitHub Actions job.

    The documented flow (docs.pypi.org "Trusted Publishers", internals): the audience from the
    index's `GET /_/oidc/audience`; the job's OIDC token for that audience from
    `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` (bearer `$ACTIONS_ID_TOKEN_REQUEST_TOKEN`, which
    the runner sets only when the job has `permissions: id-token: write`); then
    `POST /_/oidc/mint-token {"token": …}` → `{"token": "pypi-…"}`, an upload token for
    `__token__` that expires in minutes. Nothing is stored; `on_token` gets each secret first
    (the OIDC token, the minted token) so the caller can mask it before any line is printed.
    """

    def __init__(
        self,
        upload_url: str,
        env: Mapping[str, str],
        *,
        on_token: Callable[[str], None] = lambda _token: None,
        timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(upload_url)
        # PyPI uploads to upload.pypi.org and mints on pypi.org (gh-action-pypi-publish does the
        # same); other indexes serve both on the upload URL's host.
        host = parts.netloc.removeprefix("upload.")
        self.base = f"{parts.scheme}://{host}"
        self.env = env
        self.on_token = on_token
        self.timeout = timeout

    def mint(self) -> str:
        request_url = self.env.get(OIDC_URL_ENV)
        request_token = self.env.get(OIDC_TOKEN_ENV)
        if not request_url or not request_token:
            missing = OIDC_URL_ENV if not request_url else OIDC_TOKEN_ENV
            raise IndexAccessError(
                f"trusted publishing needs the GitHub Actions OIDC token, and {missing} is not "
                "set: this is not a GitHub Actions job allowed to request one",
                hint="run the step in the release workflow, whose job needs "
                "`permissions: id-token: write` (rcflow init writes it)",
            )
        self.on_token(request_token)
        audience = self._audience()
        oidc = self._oidc_token(request_url, request_token, audience)
        self.on_token(oidc)
        token = self._exchange(oidc)
        self.on_token(token)
        return token

    def _audience(self) -> str:
        url = f"{self.base}/_/oidc/audience"
        response = self._call("GET", url, what="read the trusted publishing audience")
        if response.status_code == 404:
            raise IndexAccessError(
                f"{urlsplit(url).netloc} does not offer trusted publishing (no /_/oidc/audience)",
                hint="set trusted_publishing = false and use password_env for this index",
            )
        audience = _json_field(response, "audience")
        if response.status_code != 200 or not audience:
            raise PackageIndexError(
                f"{urlsplit(url).netloc}: could not read the trusted publishing audience: "
                f"HTTP {response.status_code}"
            )
        return audience

    def _oidc_token(self, request_url: str, request_token: str, audience: str) -> str:
        from urllib.parse import quote

        separator = "&" if "?" in request_url else "?"
        url = f"{request_url}{separator}audience={quote(audience, safe='')}"
        response = self._call(
            "GET",
            url,
            headers={"Authorization": f"bearer {request_token}"},
            what="request the job's OIDC token",
        )
        value = _json_field(response, "value")
        if response.status_code in (401, 403):
            raise IndexAccessError(
                f"GitHub Actions refused the OIDC token request (HTTP {response.status_code})",
                hint="the job needs `permissions: id-token: write`",
            )
        if response.status_code != 200 or not value:
            raise PackageIndexError(
                f"the GitHub Actions OIDC token request failed: HTTP {response.status_code}"
            )
        return value

    def _exchange(self, oidc: str) -> str:
        url = f"{self.base}/_/oidc/mint-token"
        response = self._call("POST", url, json_body={"token": oidc}, what="mint an upload token")
        token = _json_field(response, "token")
        if response.status_code == 200 and token:
            return token
        host = urlsplit(url).netloc
        if response.status_code == 404:
            raise IndexAccessError(
                f"{host} does not offer trusted publishing (no /_/oidc/mint-token)",
                hint="set trusted_publishing = false and use password_env for this index",
            )
        if 400 <= response.status_code < 500:
            raise IndexAccessError(
                f"{host} refused the trusted publishing exchange: {_mint_refusal(response, oidc)}",
                hint=_mint_hint(response),
            )
        raise PackageIndexError(
            f"{host}: could not mint an upload token: HTTP {response.status_code}"
        )

    def _call(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> requests.Response:
        import requests

        try:
            return requests.request(
                method,
                url,
                headers={"User-Agent": "rcflow", **(headers or {})},
                json=json_body,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            host = urlsplit(url).netloc
            raise PackageIndexError(f"{host}: could not {what}: {type(exc).__name__}") from None


def _json_field(response: requests.Response, key: str) -> str | None:
    try:
        value = response.json().get(key)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def _mint_errors(response: requests.Response) -> list[tuple[str, str]]:
    try:
        errors = response.json().get("errors") or []
        return [(str(e.get("code", "")), str(e.get("description", ""))) for e in errors]
    except (ValueError, AttributeError):
        return []


def _mint_refusal(response: requests.Response, oidc: str) -> str:
    """The index's codes and words, and the claim that did not match when it names one.

    PyPI answers `{"message": …, "errors": [{"code": "invalid-publisher", "description": …}]}`;
    its description names the failed claim ("Check failed for required claim 'repository'") or
    only says no publisher matched — then the job's own claims are listed to compare with the
    publisher configured on the index. The OIDC token's claims are not secret; the token is.
    """
    errors = _mint_errors(response)
    text = "; ".join(f"{code}: {description}" for code, description in errors)
    if not text:
        text = f"HTTP {response.status_code}"
    text = " ".join(text.replace(oidc, "***").split())[:300]  # an index may echo the token
    claimed = _claims(oidc)
    named = re.findall(r"claim ['\"]([a-z_]+)['\"]", text)
    if named:
        claim = named[0]
        shown = claimed.get(claim)
        return (
            f"the claim {claim!r} did not match"
            + (f" (this job's {claim} is {shown!r})" if shown else "")
            + f" ({text})"
        )
    if any(code == "invalid-publisher" for code, _ in errors) and claimed:
        mine = ", ".join(f"{k}={claimed[k]!r}" for k in _PUBLISHER_CLAIMS if k in claimed)
        return f"no trusted publisher matches this job's claims ({mine}) ({text})"
    return text


def _mint_hint(response: requests.Response) -> str:
    codes = {code for code, _ in _mint_errors(response)}
    if "invalid-token" in codes:
        return "the job's OIDC token was not accepted (expired?): re-run the job"
    if "not-enabled" in codes:
        return "the index has trusted publishing turned off: use password_env for now"
    return (
        "add a trusted publisher for this repository, workflow file and environment on the "
        "index (or fix the one there), then re-run"
    )


def _claims(jwt: str) -> dict[str, str]:
    """The payload of a JWT, unverified: only to name the claims in a message."""
    import base64

    try:
        payload = jwt.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int) and v}
