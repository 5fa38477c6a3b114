"""An in-memory GitHub REST API on 127.0.0.1, held to GitHub's own OpenAPI description.

Laid out like GitHub Enterprise, which PyGithub accepts as `Github(base_url=...)`:

    http://127.0.0.1:PORT/api/v3/...        the REST API (api.github.com in the spec)
    http://127.0.0.1:PORT/api/uploads/...   release asset uploads (uploads.github.com)
    http://127.0.0.1:PORT/api/_objects/ID   asset bytes (the target of the download redirect;
                                            outside the spec, like objects.githubusercontent.com)

Every request to /api/v3 and /api/uploads is matched to an operation of `openapi_subset.json`
and validated; so is every response whose status the operation documents. Anything that does
not fit is appended to `server.mismatches`, which the `github_server` fixture turns into a test
failure. Responses are the spec's own examples, deep-copied, with ids, URLs, timestamps and the
caller's fields put in.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import queue
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from werkzeug.datastructures import ImmutableMultiDict

from .spec import Operation, Spec, load_spec

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
SECONDARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    "#about-the-primary-rate-limit"
)
DEFAULT_PERMISSIONS = {
    "contents": "write",
    "issues": "write",
    "actions": "write",
    "deployments": "write",
    "metadata": "read",
}
_GIT_ENV_DROP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
)


# A body this large (a release asset) is received in blocks of _RECV_BLOCK and hashed as it
# arrives; smaller ones are read whole.
_LARGE_BODY = 1 << 20
_RECV_BLOCK = 8 << 20


class Received:
    """A large body as it was received: its blocks, in order (bytes when compared or asked)."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, blocks: tuple[bytes | memoryview, ...]) -> None:
        self.blocks = blocks
        self._size = sum(len(b) for b in blocks)

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        return b"".join(self.blocks)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Received):
            other = bytes(other)
        return isinstance(other, bytes | bytearray) and bytes(self) == other

    def __repr__(self) -> str:
        return f"Received({len(self)} bytes in {len(self.blocks)} blocks)"


# -- records a test can assert on ------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """One request as the server saw it. `path` is the URL path as sent (with /api/v3)."""

    method: str
    path: str
    query: str
    status: int  # 0: the connection was dropped
    operation: str | None


@dataclass(frozen=True)
class Refused:
    """A write GitHub refuses for an immutable release."""

    method: str
    path: str
    reason: str


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str]
    body: Any
    handled: bool = False  # a dropped connection after the request was carried out


# -- state -------------------------------------------------------------------------------------


@dataclass
class Asset:
    id: int
    release_id: int
    name: str
    label: str
    content_type: str
    data: bytes | Received  # a large upload: the blocks it was received in, not a copy
    created_at: str
    download_count: int = 0
    # GitHub creates the asset when an upload starts: one cut off midway stays, unfinished
    # (GitHub answers "starter"; the OpenAPI description knows "open"), and blocks its name.
    state: str = "uploaded"
    # GitHub computes an asset's digest once, when it is uploaded; so does the server (a large
    # asset hashed on every listing would be the server's cost, timed as the client's).
    _digest: tuple[bytes | Received, str] | None = field(default=None, repr=False, compare=False)

    def digest(self) -> str:
        if self._digest is None or self._digest[0] is not self.data:
            self._digest = (self.data, hashlib.sha256(bytes(self.data)).hexdigest())
        return self._digest[1]


@dataclass
class Release:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    target_commitish: str
    created_at: str
    published_at: str | None
    immutable: bool = False
    seq: int = 0  # creation order, breaks ties between equal timestamps
    assets: list[Asset] = field(default_factory=list)


@dataclass
class Comment:
    id: int
    body: str
    created_at: str


@dataclass
class Issue:
    id: int
    number: int
    title: str
    body: str | None
    state: str
    state_reason: str | None
    labels: list[str]
    created_at: str
    updated_at: str
    closed_at: str | None = None
    comments: list[Comment] = field(default_factory=list)


@dataclass
class Ruleset:
    id: int
    name: str
    target: str
    enforcement: str
    include: list[str]
    exclude: list[str]
    rules: list[dict[str, Any]]
    bypass_actors: list[dict[str, Any]]
    created_at: str
    current_user_can_bypass: str = "never"  # "always" when the token's actor may bypass


@dataclass
class Workflow:
    id: int
    name: str
    path: str
    state: str
    created_at: str
    run_name: str | None = None  # the workflow's `run-name:`, with ${{ inputs.X }} expressions
    # What each dispatched run goes through after `queued`, one step each time it is read.
    steps: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class WorkflowRun:
    id: int
    workflow_id: int
    run_number: int
    event: str
    head_branch: str | None
    head_sha: str
    status: str
    conclusion: str | None
    created_at: str
    updated_at: str
    inputs: dict[str, Any] = field(default_factory=dict)
    display_title: str = ""
    steps: list[tuple[str, str | None]] = field(default_factory=list)  # still to go, in order


@dataclass
class CheckRun:
    id: int
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: str
    completed_at: str | None
    steps: list[tuple[str, str | None]] = field(default_factory=list)  # one per read of its sha


@dataclass
class CommitStatus:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    created_at: str


@dataclass
class DeploymentStatus:
    id: int
    state: str
    description: str
    environment: str
    log_url: str
    environment_url: str
    created_at: str


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    task: str
    environment: str
    description: str | None
    payload: Any
    production: bool
    transient: bool
    created_at: str
    statuses: list[DeploymentStatus] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)  # states still to come, one per read


# -- plumbing ------------------------------------------------------------------------------


class HTTPError(Exception):
    def __init__(
        self, status: int, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


@dataclass
class Call:
    """What a handler sees of one request."""

    method: str
    path: str  # as sent, with /api/v3
    params: dict[str, str]  # path parameters
    query: ImmutableMultiDict[str, str]
    headers: Mapping[str, str]
    raw: bytes | Received
    content_type: str
    raw_sha256: str | None = None  # of a large body, hashed as it was received

    def json(self) -> dict[str, Any]:
        if not self.raw:
            return {}
        value = json.loads(self.raw)
        if not isinstance(value, dict):
            raise HTTPError(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        return value

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise HTTPError(404, not_found()) from None


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON value, bytes, or None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None  # defaults to JSON when body is not None


def not_found() -> dict[str, str]:
    return {"message": "Not Found", "documentation_url": DOCS, "status": "404"}


def validation_failed(resource: str, code: str, field_name: str, docs: str = DOCS) -> HTTPError:
    return HTTPError(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": code, "field": field_name}],
            "documentation_url": docs,
            "status": "422",
        },
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_sha(text: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{40}", text) is not None


class _ServerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    gh: GitHubServer  # set on the per-server subclass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle and delayed ACKs add
        # ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> tuple[bytes | Received, str | None]:
        """The body, and for a large one its sha256.

        A large body (a release asset) is received in big blocks, kept as they came (no second
        copy of the asset to join them), and hashed as they arrive, as GitHub digests an upload
        while storing it: by a thread of its own, so receiving the next block and hashing this
        one go on side by side (the hash keeps pace with the sender instead of starting after
        the last byte, or slowing the receiving down to its own pace).
        """
        length = int(self.headers.get("Content-Length") or 0)
        if length >= _LARGE_BODY and "chunked" not in self.headers.get("Transfer-Encoding", ""):
            blocks: list[bytes] = []
            digest = hashlib.sha256()
            arrived: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

            def hash_blocks() -> None:
                while (block := arrived.get()) is not None:
                    digest.update(block)

            hashing = threading.Thread(target=hash_blocks, name="ghserver:digest", daemon=True)
            hashing.start()
            got = 0
            try:
                while got < length:
                    # Blocks read as new bytes: receiving into mapped, prefaulted blocks was
                    # tried (issue 14) and cost a promote's download ~0.3 s more client CPU.
                    block = self.rfile.read(min(_RECV_BLOCK, length - got))
                    if not block:
                        raise ConnectionError(f"the body ended after {got} of {length} bytes")
                    arrived.put(block)
                    blocks.append(block)
                    got += len(block)
            finally:
                arrived.put(None)
                hashing.join()
            return Received(tuple(blocks)), digest.hexdigest()
        return self._read_small_body(), None

    def _read_small_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away: a request GitHub never gets whole
            raise ConnectionError(f"the body ended after {len(body)} of {length} bytes")
        return body

    def _handle(self) -> None:
        try:
            body, digest = self._read_body()
        except ConnectionError:  # the client went away mid-body: no request to answer
            self.close_connection = True
            url = urlsplit(self.path)
            self.gh._body_cut(self.command, url.path, url.query)
            return
        url = urlsplit(self.path)
        reply = self.gh._serve(self.command, url.path, url.query, self.headers, body, digest)
        if reply is None:  # drop the connection without an answer
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = reply.body if isinstance(reply.body, bytes | Received) else b""
        if reply.body is not None and not isinstance(reply.body, bytes | Received):
            data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            for block in data.blocks if isinstance(data, Received) else (data,):
                self.wfile.write(block)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


# -- the server ----------------------------------------------------------------------------


class GitHubServer:
    """See the module docstring. State is in memory and guarded by one lock."""

    def __init__(
        self,
        owner: str = "acme",
        repo: str = "app",
        *,
        token: str = "ghs_testtoken",  # noqa: S107 — a fake token for a fake server
        git_dir: Path | None = None,
    ) -> None:
        self.owner = owner
        self.repo = repo
        self.token = token
        self.git_dir = git_dir
        self.repo_id = 700_001
        self.default_branch = "main"
        self.private = True
        self.user_login = "rcflow-bot"
        # Test-settable properties
        self.token_expires: datetime | None = None
        self.token_permissions: dict[str, str] = dict(DEFAULT_PERMISSIONS)
        self.immutable_releases = False
        self.cancelled: list[int] = []  # workflow runs cancelled through the API, in order
        self.tags: dict[str, str] = {}  # without git_dir: tag -> commit sha
        self.branches: dict[str, str] = {"main": "1" * 40}  # without git_dir: branch -> sha
        # Records
        self.requests: list[Logged] = []
        self.mismatches: list[str] = []
        self.refused: list[Refused] = []
        # State
        self.releases: dict[int, Release] = {}
        self.issues: dict[int, Issue] = {}
        self.rulesets: dict[int, Ruleset] = {}
        self.workflows: dict[int, Workflow] = {}
        self.runs: dict[int, WorkflowRun] = {}
        self.check_runs: list[CheckRun] = []
        self.statuses: list[CommitStatus] = []
        # (sha, context) -> states still to come, one posted per read of the sha's statuses
        self.status_steps: dict[tuple[str, str], list[str]] = {}
        self.deployments: dict[int, Deployment] = {}
        # Test-settable dispatch behaviour: answer the run's id when asked (API versions since
        # return_run_details; False: an older server that answers 204 regardless), and whether
        # a dispatch starts a run at all (False: a run that never appears).
        self.dispatch_run_details = True
        self.dispatch_starts_runs = True
        # An older GitHub Enterprise Server (see `as_older_ghes`): its version header, and the
        # operations it does not have (it answers them as any unknown route: a plain 404).
        self.enterprise_version: str | None = None
        self.missing_operations: set[str] = set()
        self.sends_token_expiration = True
        self.sends_asset_digests = True  # False: an older GHES, assets without a digest
        self.old_names: list[tuple[str, str]] = []
        self._latest_id: int | None = None
        self._ids = iter(range(1001, 10**9))
        self._seq = iter(range(1, 10**9))
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self._cut = threading.Condition(self._lock)
        self.cut_bodies = 0  # requests whose body ended early (the client went away)
        self._spec: Spec = load_spec()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._rate_reset = int(time.time()) + 3600
        self.root = ""
        self.base_url = ""
        self.uploads_url = ""
        self.validation_seconds = 0.0
        # False: answers are not checked against the spec. Only a bench sets it (it times the
        # client; the check is the tests' assurance, ~5 ms a request, not what GitHub does).
        # Requests are always checked: GitHub answers 422 to an invalid one.
        self.checks_responses = True

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> GitHubServer:
        handler = type("Handler", (_ServerHandler,), {"gh": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        port = self._httpd.server_address[1]
        self.root = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root}/api/v3"
        self.uploads_url = f"{self.root}/api/uploads"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ghserver:{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GitHubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests -------------------------------------------------------------------

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def env(self) -> dict[str, str]:
        return {"GITHUB_TOKEN": self.token, "RCFLOW_GITHUB_API_URL": self.base_url}

    def count(self, method: str, path_regex: str) -> int:
        """How many logged requests match (method "*" for any; the regex is re.search'ed)."""
        pattern = re.compile(path_regex)
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method == "*" or r.method == method.upper()) and pattern.search(r.path)
            )

    def rename(self, new_owner: str, new_repo: str) -> None:
        """Move the repository; the old name answers 301 to /repositories/{id}/... as GitHub."""
        with self._lock:
            self.old_names.append((self.owner, self.repo))
            self.owner, self.repo = new_owner, new_repo

    def as_older_ghes(self, *features: str, version: str = "3.10.0") -> GitHubServer:
        """Answer as a GitHub Enterprise Server without features (default: all of them).

        "rulesets" (GHES < 3.11): the rulesets endpoints are unknown routes (404).
        "immutable-releases": its endpoint is an unknown route (404 with GitHub's error body,
        where a server that has it answers a bodiless 404 when the setting is off).
        "run-details": a workflow dispatch answers 204 even when `return_run_details` is sent.
        "token-expiration": no github-authentication-token-expiration header.
        """
        chosen = set(features or GHES_FEATURES)
        unknown = chosen - set(GHES_FEATURES)
        if unknown:
            raise ValueError(f"no such feature: {sorted(unknown)}")
        with self._lock:
            self.enterprise_version = version
            if "rulesets" in chosen:
                self.missing_operations |= {"repos/get-repo-rulesets", "repos/get-repo-ruleset"}
            if "immutable-releases" in chosen:
                self.missing_operations.add("repos/check-immutable-releases")
            if "run-details" in chosen:
                self.dispatch_run_details = False
            if "token-expiration" in chosen:
                self.sends_token_expiration = False
        return self

    def add_ruleset(
        self,
        name: str = "release tags",
        *,
        target: str = "tag",
        enforcement: str = "active",
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        rules: list[dict[str, Any]] | None = None,
        bypass_actors: list[dict[str, Any]] | None = None,
        current_user_can_bypass: str = "never",
    ) -> int:
        with self._lock:
            ruleset = Ruleset(
                id=next(self._ids),
                name=name,
                target=target,
                enforcement=enforcement,
                include=list(include if include is not None else ["refs/tags/v*"]),
                exclude=list(exclude or []),
                rules=list(rules if rules is not None else [{"type": "deletion"}]),
                bypass_actors=list(bypass_actors or []),
                created_at=_now(),
                current_user_can_bypass=current_user_can_bypass,
            )
            self.rulesets[ruleset.id] = ruleset
            return ruleset.id

    def add_release(self, tag_name: str, **fields: Any) -> Release:
        """Put a release in place directly (no request, no validation); returns it."""
        with self._lock:
            release = self._new_release(
                tag_name=tag_name,
                name=fields.pop("name", tag_name),
                body=fields.pop("body", ""),
                draft=fields.pop("draft", False),
                prerelease=fields.pop("prerelease", False),
                target=fields.pop("target_commitish", self.default_branch),
                make_latest=fields.pop("make_latest", "true"),
            )
            for key, value in fields.items():
                setattr(release, key, value)
            return release

    def release_by_tag(self, tag_name: str) -> Release | None:
        with self._lock:
            return next((r for r in self.releases.values() if r.tag_name == tag_name), None)

    # Faults ------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` requests matching (method or "*", re.search on the path as sent)
        answer `status`; status 0 drops the connection without an answer."""
        if body is None and status:
            body = _DEFAULT_FAULT_BODIES.get(
                status, {"message": "Error", "documentation_url": DOCS}
            )
        with self._lock:
            self._faults.append(
                Fault(
                    method.upper(), re.compile(path_regex), status, times, dict(headers or {}), body
                )
            )

    def fail_server_error(self, method: str, path_regex: str, *, times: int = 1) -> None:
        self.fail(method, path_regex, 502, times=times, body={"message": "Server Error"})

    def fail_secondary_rate_limit(
        self, method: str, path_regex: str, *, times: int = 1, retry_after: int = 1
    ) -> None:
        self.fail(
            method,
            path_regex,
            403,
            times=times,
            headers={"Retry-After": str(retry_after)},
            body={"message": SECONDARY_RATE_LIMIT, "documentation_url": SECONDARY_RATE_LIMIT_DOCS},
        )

    def fail_rate_limit(
        self, method: str, path_regex: str, *, times: int = 1, reset_in: int = 1
    ) -> None:
        """Primary rate limit exhausted: 429, x-ratelimit-remaining 0, reset in `reset_in` s."""
        self.fail(
            method,
            path_regex,
            429,
            times=times,
            headers={
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + reset_in),
            },
            body={
                "message": f"API rate limit exceeded for installation ID {self.repo_id}.",
                "documentation_url": PRIMARY_RATE_LIMIT_DOCS,
            },
        )

    def fail_bad_credentials(self, method: str, path_regex: str, *, times: int = 1) -> None:
        self.fail(method, path_regex, 401, times=times)

    def fail_not_found(self, method: str, path_regex: str, *, times: int = 1) -> None:
        self.fail(method, path_regex, 404, times=times)

    def fail_validation(self, method: str, path_regex: str, *, times: int = 1) -> None:
        self.fail(method, path_regex, 422, times=times)

    def drop_connection(
        self, method: str, path_regex: str, *, times: int = 1, handled: bool = False
    ) -> None:
        """The next matching requests get no answer; with handled, after being carried out
        (the answer to a write that happened is lost)."""
        self.fail(method, path_regex, 0, times=times)
        if handled:
            with self._lock:
                self._faults[-1].handled = True

    # Workflows, runs, checks, statuses (phase 2) -----------------------------------------

    def add_workflow(
        self,
        path: str = ".github/workflows/release.yml",
        name: str = "release",
        *,
        run_name: str | None = None,
        steps: list[tuple[str, str | None]] | None = None,
    ) -> int:
        """A workflow. `run_name` is its `run-name:` (``${{ inputs.X }}`` is filled in from the
        dispatch's inputs into each run's display_title); each dispatched run starts `queued`
        and takes the next of `steps` — (status, conclusion) — each time it is read."""
        with self._lock:
            wf = Workflow(
                next(self._ids), name, path, "active", _now(), run_name, list(steps or [])
            )
            self.workflows[wf.id] = wf
            return wf.id

    def dispatched(self, workflow_id: int | None = None) -> list[WorkflowRun]:
        """The runs started by workflow_dispatch (of one workflow), oldest first."""
        with self._lock:
            return sorted(
                (
                    r
                    for r in self.runs.values()
                    if r.event == "workflow_dispatch"
                    and (workflow_id is None or r.workflow_id == workflow_id)
                ),
                key=lambda r: r.id,
            )

    def add_run(
        self,
        workflow_id: int,
        *,
        head_sha: str,
        head_branch: str | None = "main",
        event: str = "push",
        status: str = "completed",
        conclusion: str | None = "success",
    ) -> int:
        with self._lock:
            return self._new_run(workflow_id, head_sha, head_branch, event, status, conclusion).id

    def set_run(
        self,
        run_id: int,
        *,
        status: str,
        conclusion: str | None = None,
        steps: list[tuple[str, str | None]] | None = None,
    ) -> None:
        """Set a run's state now; `steps` (if given) replaces what it goes through next."""
        with self._lock:
            run = self.runs[run_id]
            run.status, run.conclusion, run.updated_at = status, conclusion, _now()
            if steps is not None:
                run.steps = list(steps)

    def add_check_run(
        self,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = "success",
        steps: list[tuple[str, str | None]] | None = None,
    ) -> int:
        """A check run on head_sha; with `steps`, each read of the sha's check runs moves it
        on to the next (status, conclusion)."""
        with self._lock:
            now = _now()
            check = CheckRun(
                next(self._ids),
                head_sha,
                name,
                status,
                conclusion,
                now,
                now if status == "completed" else None,
                list(steps or []),
            )
            self.check_runs.append(check)
            return check.id

    def set_check_run(self, check_id: int, *, status: str, conclusion: str | None = None) -> None:
        with self._lock:
            check = next(c for c in self.check_runs if c.id == check_id)
            check.status, check.conclusion = status, conclusion
            check.completed_at = _now() if status == "completed" else None

    def add_status(
        self,
        sha: str,
        context: str,
        state: str = "success",
        *,
        description: str | None = None,
        target_url: str | None = None,
    ) -> int:
        with self._lock:
            st = CommitStatus(next(self._ids), sha, state, context, description, target_url, _now())
            self.statuses.append(st)
            return st.id

    def schedule_statuses(self, sha: str, context: str, states: list[str]) -> None:
        """Post the next of states for (sha, context) each time the sha's statuses are read."""
        with self._lock:
            self.status_steps[(sha, context)] = list(states)

    def _step_statuses(self, sha: str) -> None:
        for (at, context), states in self.status_steps.items():
            if at == sha and states:
                self.statuses.append(
                    CommitStatus(next(self._ids), sha, states.pop(0), context, None, None, _now())
                )

    def add_deployment(
        self,
        sha: str,
        environment: str = "production",
        *,
        states: list[str] | None = None,
        steps: list[str] | None = None,
        ref: str | None = None,
        log_url: str | None = None,
    ) -> int:
        """A deployment of sha with its statuses so far (`states`, oldest first); with `steps`,
        each read of its statuses posts the next state after answering."""
        with self._lock:
            d = self._new_deployment(sha, ref or sha, "deploy", environment, None, "")
            for state in states or []:
                self._post_deployment_status(d, state, log_url=log_url or "")
            d.steps = list(steps or [])
            return d.id

    def add_deployment_status(
        self, deployment_id: int, state: str, *, log_url: str = "", environment_url: str = ""
    ) -> int:
        with self._lock:
            d = self.deployments[deployment_id]
            return self._post_deployment_status(
                d, state, log_url=log_url, environment_url=environment_url
            ).id

    def _new_deployment(
        self,
        sha: str,
        ref: str,
        task: str,
        environment: str,
        description: str | None,
        payload: Any,
        *,
        production: bool | None = None,
        transient: bool = False,
    ) -> Deployment:
        d = Deployment(
            next(self._ids),
            sha,
            ref,
            task,
            environment,
            description,
            payload,
            environment == "production" if production is None else production,
            transient,
            _now(),
        )
        self.deployments[d.id] = d
        return d

    def _post_deployment_status(
        self,
        d: Deployment,
        state: str,
        *,
        log_url: str = "",
        environment_url: str = "",
        description: str = "",
        environment: str | None = None,
        auto_inactive: bool = True,
    ) -> DeploymentStatus:
        st = DeploymentStatus(
            next(self._ids),
            state,
            description,
            environment or d.environment,
            log_url,
            environment_url,
            _now(),
        )
        d.statuses.append(st)
        if state == "success" and auto_inactive:
            # GitHub: prior non-transient, non-production deployments to the environment whose
            # latest status is success get an `inactive` status.
            for other in self.deployments.values():
                if (
                    other.id != d.id
                    and other.environment == d.environment
                    and not other.transient
                    and not other.production
                    and other.statuses
                    and other.statuses[-1].state == "success"
                ):
                    other.statuses.append(
                        DeploymentStatus(
                            next(self._ids), "inactive", "", other.environment, "", "", _now()
                        )
                    )
        return st

    # -- tags ------------------------------------------------------------------------------

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.git_dir is not None
        env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    def tag_commit(self, tag: str) -> str | None:
        if self.git_dir is None:
            return self.tags.get(tag)
        out = self._git("rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
        return out.stdout.strip() or None

    def _resolve_commitish(self, target: str) -> str | None:
        if self.git_dir is None:
            if target in self.branches:
                return self.branches[target]
            if target in self.tags:
                return self.tags[target]
            return target if _is_sha(target) else None
        for ref in (f"refs/heads/{target}", f"refs/tags/{target}", target):
            out = self._git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}")
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        return None

    def _create_tag(self, tag: str, target: str) -> None:
        sha = self._resolve_commitish(target)
        if sha is None:
            raise validation_failed("Release", "invalid", "target_commitish")
        if self.git_dir is None:
            self.tags[tag] = sha
            return
        out = self._git("update-ref", f"refs/tags/{tag}", sha, "0" * 40)
        if out.returncode != 0:
            raise HTTPError(500, {"message": f"git update-ref failed: {out.stderr.strip()}"})

    # -- request handling --------------------------------------------------------------------

    def _serve(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        raw: bytes | Received,
        raw_sha256: str | None = None,
    ) -> Reply | None:
        op: Operation | None = None
        try:
            op, reply = self._serve_inner(method, path, query, headers, raw, raw_sha256)
        except Exception as exc:  # a bug in the server: answer 500 and make the test fail
            reply = Reply(500, {"message": f"test server error: {exc!r}"})
            self._mismatch(f"{method} {path}: test server raised {exc!r}")
        with self._lock:
            self.requests.append(
                Logged(method, path, query, reply.status if reply else 0, op.op_id if op else None)
            )
        if reply is not None:
            own = {k.lower() for k in reply.headers}
            common = {k: v for k, v in self._common_headers().items() if k.lower() not in own}
            reply.headers = {**common, **reply.headers}
            if reply.content_type is None and reply.body is not None:
                reply.content_type = "application/json; charset=utf-8"
        return reply

    def _body_cut(self, method: str, path: str, query: str) -> None:
        """A request whose body ended early; an asset upload's leaves its asset unfinished."""
        with self._lock:
            self.requests.append(Logged(method, path, query, 0, None))
            found = re.fullmatch(r"/api/uploads/repos/[^/]+/[^/]+/releases/(\d+)/assets", path)
            release = self.releases.get(int(found.group(1))) if found else None
            name = dict(parse_qsl(query)).get("name")
            if (
                method == "POST"
                and release
                and name
                and not any(a.name == name for a in release.assets)
            ):
                release.assets.append(
                    Asset(next(self._ids), release.id, name, "", "", b"", _now(), state="open")
                )
            self.cut_bodies += 1
            self._cut.notify_all()

    def wait_for_cut_bodies(self, count: int, timeout: float = 30.0) -> None:
        """Until `count` request bodies in all were cut off (the server notices a client that
        went away on its own thread)."""
        with self._lock:
            if not self._cut.wait_for(lambda: self.cut_bodies >= count, timeout):
                raise AssertionError(f"{self.cut_bodies} request bodies cut off, not {count}")

    def _ghes_not_found(self) -> dict[str, str]:
        version = ".".join((self.enterprise_version or "3.10").split(".")[:2])
        return {
            "message": "Not Found",
            "documentation_url": f"https://docs.github.com/enterprise-server@{version}/rest",
            "status": "404",
        }

    def _mismatch(self, line: str) -> None:
        with self._lock:
            self.mismatches.append(line)

    def _common_headers(self) -> dict[str, str]:
        with self._lock:
            used = len(self.requests)
        headers = {
            "x-github-api-version-selected": API_VERSION,
            "x-github-media-type": "github.v3; format=json",
            "x-github-request-id": f"0000:{used:04X}:{self.repo_id:X}",
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(max(0, 5000 - used)),
            "x-ratelimit-reset": str(self._rate_reset),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "core",
        }
        if self.enterprise_version is not None:
            headers["x-github-enterprise-version"] = self.enterprise_version
        if self.token_expires is not None and self.sends_token_expiration:
            when = self.token_expires.astimezone(UTC)
            headers["github-authentication-token-expiration"] = when.strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            )
        return headers

    def _serve_inner(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        raw: bytes | Received,
        raw_sha256: str | None = None,
    ) -> tuple[Operation | None, Reply | None]:
        if path.startswith("/api/_objects/"):
            return None, self._serve_object(path)
        if path.startswith("/api/v3/") or path == "/api/v3":
            kind, rel = "api", path[len("/api/v3") :] or "/"
        elif path.startswith("/api/uploads/"):
            kind, rel = "uploads", path[len("/api/uploads") :]
        else:
            self._mismatch(f"{method} {path}: not under /api/v3 or /api/uploads")
            return None, Reply(404, not_found())

        canonical = rel
        alias = re.match(r"^/repositories/(\d+)(/.*)?$", rel)
        if alias:
            if int(alias[1]) != self.repo_id:
                return None, Reply(404, not_found())
            canonical = f"/repos/{self.owner}/{self.repo}{alias[2] or ''}"

        found = self._spec.find(method, canonical)
        if found is None:
            self._mismatch(f"{method} {rel}: no operation in the spec subset")
            return None, Reply(404, not_found())
        op, params = found
        params = {k: unquote(v) for k, v in params.items()}
        expected_kind = "uploads" if "uploads" in op.host_url else "api"
        if kind != expected_kind:
            self._mismatch(f"{op.op_id} request {method} {path}: sent to /api/{kind} host")

        query_md: ImmutableMultiDict[str, str] = ImmutableMultiDict(
            parse_qsl(query, keep_blank_values=True)
        )
        content_type = headers.get("Content-Type", "") or ""
        started = time.perf_counter()
        if op.op_id == "repos/upload-release-asset":
            # The spec lists application/octet-stream only, but its text says the Content-Type
            # header carries the asset's media type: check that one is given, then validate the
            # binary body under the spec's media type.
            if not re.fullmatch(r"[\w.+-]+/[\w.+-]+(\s*;.*)?", content_type.strip()):
                self._mismatch(
                    f"{op.op_id} request {method} {path}: "
                    f"no media type in Content-Type ({content_type!r})"
                )
            validated_type = "application/octet-stream"
        else:
            validated_type = content_type
        # An optional query parameter sent empty (PyGithub's upload sends `label=`) is, for
        # GitHub, one not sent; OpenAPI 3.0 forbids empty values unless allowEmptyValue.
        checked_query: ImmutableMultiDict[str, str] = ImmutableMultiDict(
            [(k, v) for k, v in query_md.items(multi=True) if v or k in op.required_query]
        )
        errors = self._spec.validate_request(
            op, canonical, params, checked_query, headers, raw, validated_type
        )
        with self._lock:
            self.validation_seconds += time.perf_counter() - started
        for error in errors:
            self._mismatch(f"{op.op_id} request {method} {path}: {error}")

        call = Call(method, path, params, query_md, headers, raw, content_type, raw_sha256)
        if op.op_id in self.missing_operations and self._authorized(headers):
            # A route this server version does not have: GitHub's generic 404, which must be
            # what the spec calls a not-found answer (the operation's own 404 may differ).
            reply = Reply(404, self._ghes_not_found())
            for error in self._spec.validate_not_found(json.dumps(reply.body).encode()):
                self._mismatch(f"{op.op_id} (missing) response 404 to {method} {path}: {error}")
            return op, reply
        validate = True
        fault = self._take_fault(method, path)
        if fault is not None:
            if fault.status == 0 and fault.handled:
                with contextlib.suppress(HTTPError):
                    self._answer(op, call, canonical, rel, errors)
                return op, None
            if fault.status == 0:
                return op, None
            reply = Reply(fault.status, fault.body, dict(fault.headers))
            validate = op.documents(fault.status)
        else:
            try:
                reply = self._answer(op, call, canonical, rel, errors)
            except HTTPError as exc:
                reply = Reply(exc.status, exc.body, exc.headers)
            if not op.documents(reply.status):
                validate = False
                if reply.status < 400 and reply.status != 301:
                    self._mismatch(
                        f"{op.op_id} response {reply.status} to {method} {path}: "
                        "status not documented for this operation"
                    )
        if validate and self.checks_responses:
            self._validate_response(op, call, canonical, reply)
        return op, reply

    def _validate_response(self, op: Operation, call: Call, canonical: str, reply: Reply) -> None:
        data = reply.body if isinstance(reply.body, bytes) else b""
        content_type = reply.content_type or ""
        if reply.body is not None and not isinstance(reply.body, bytes):
            data = json.dumps(reply.body).encode()
            content_type = content_type or "application/json; charset=utf-8"
        started = time.perf_counter()
        errors = self._spec.validate_response(
            op, canonical, call.params, call.query, reply.status, content_type, data, reply.headers
        )
        with self._lock:
            self.validation_seconds += time.perf_counter() - started
        for error in errors:
            self._mismatch(
                f"{op.op_id} response {reply.status} to {call.method} {call.path}: {error}"
            )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.remaining > 0
                    and fault.method in ("*", method)
                    and fault.pattern.search(path)
                ):
                    fault.remaining -= 1
                    return fault
        return None

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        return scheme.lower() in ("token", "bearer") and token.strip() == self.token

    def _answer(
        self, op: Operation, call: Call, canonical: str, rel: str, request_errors: list[str]
    ) -> Reply:
        if not self._authorized(call.headers):
            raise HTTPError(
                401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            )
        with self._lock:
            if "owner" in call.params and rel == canonical:
                owner, repo = call.params["owner"].lower(), call.params["repo"].lower()
                if (owner, repo) != (self.owner.lower(), self.repo.lower()):
                    if (owner, repo) in {(o.lower(), r.lower()) for o, r in self.old_names}:
                        return self._moved(call, canonical)
                    raise HTTPError(404, not_found())
            if request_errors:
                raise HTTPError(
                    422,
                    {
                        "message": "Invalid request.\n\n" + "\n".join(request_errors),
                        "documentation_url": DOCS,
                        "status": "422",
                    },
                )
            handler = _HANDLERS.get(op.op_id)
            if handler is None:
                raise HTTPError(404, not_found())
            return handler(self, call)

    def _moved(self, call: Call, canonical: str) -> Reply:
        rest = re.sub(r"^/repos/[^/]+/[^/]+", "", canonical)
        location = f"{self.base_url}/repositories/{self.repo_id}{rest}"
        query = urlencode(list(call.query.items(multi=True)))
        if query:
            location += f"?{query}"
        return Reply(
            301,
            {
                "message": "Moved Permanently",
                "url": location,
                "documentation_url": "https://docs.github.com/v3/#http-redirects",
            },
            {"Location": location},
        )

    def _serve_object(self, path: str) -> Reply:
        m = re.fullmatch(r"/api/_objects/(\d+)(?:/[^/]*)?", path)
        with self._lock:
            asset = self._find_asset(int(m[1])) if m else None
            if asset is None:
                return Reply(404, b"Not Found", content_type="text/plain")
            asset.download_count += 1
            return Reply(
                200,
                asset.data,
                {"Content-Disposition": f"attachment; filename={asset.name}"},
                "application/octet-stream",
            )

    def _need(self, permission: str, level: str = "write") -> None:
        have = self.token_permissions.get(permission)
        if have == level or (level == "read" and have == "write"):
            return
        raise HTTPError(
            403,
            {
                "message": "Resource not accessible by integration",
                "documentation_url": DOCS,
                "status": "403",
            },
            {"x-accepted-github-permissions": f"{permission}={level}"},
        )

    # -- JSON views ----------------------------------------------------------------------

    def _rewrite(self, value: Any) -> Any:
        """Point the example's URLs at this server and this repository."""
        if isinstance(value, str):
            if "://" in value:
                value = (
                    value.replace("https://api.github.com", self.base_url)
                    .replace("https://uploads.github.com", self.uploads_url)
                    .replace("https://github.com", self.root)
                    .replace("octocat/Hello-World", self.full_name)
                )
            return value
        if isinstance(value, dict):
            return {k: self._rewrite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._rewrite(v) for v in value]
        return value

    def _user(self) -> dict[str, Any]:
        user = self._rewrite(self._spec.component_example("release")["author"])
        user["login"] = self.user_login
        user["type"] = "Bot"
        return user

    def _node_id(self, kind: str, ident: int) -> str:
        return base64.b64encode(f"0:{kind}{ident}".encode()).decode()

    def _release_json(self, r: Release) -> dict[str, Any]:
        d = self._rewrite(self._spec.component_example("release"))
        api = f"{self.base_url}/repos/{self.full_name}"
        tag_path = quote(r.tag_name, safe="")
        d.update(
            id=r.id,
            node_id=self._node_id("Release", r.id),
            tag_name=r.tag_name,
            name=r.name,
            body=r.body,
            draft=r.draft,
            prerelease=r.prerelease,
            immutable=r.immutable,
            target_commitish=r.target_commitish,
            created_at=r.created_at,
            published_at=r.published_at,
            updated_at=r.published_at or r.created_at,
            url=f"{api}/releases/{r.id}",
            assets_url=f"{api}/releases/{r.id}/assets",
            upload_url=f"{self.uploads_url}/repos/{self.full_name}/releases/{r.id}/assets"
            "{?name,label}",
            html_url=f"{self.root}/{self.full_name}/releases/tag/"
            + (tag_path if not r.draft else f"untagged-{r.id:x}"),
            tarball_url=f"{api}/tarball/{tag_path}",
            zipball_url=f"{api}/zipball/{tag_path}",
            author=self._user(),
            assets=[self._asset_json(a) for a in r.assets],
        )
        d.pop("discussion_url", None)
        return d

    def _asset_json(self, a: Asset) -> dict[str, Any]:
        d = self._rewrite(self._spec.component_example("release-asset"))
        release = self.releases.get(a.release_id)
        tag = quote(release.tag_name if release else "untagged", safe="")
        d.update(
            id=a.id,
            node_id=self._node_id("ReleaseAsset", a.id),
            name=a.name,
            label=a.label,
            content_type=a.content_type,
            size=len(a.data),
            digest=(
                "sha256:" + a.digest()
                if self.sends_asset_digests and a.state == "uploaded"
                else None
            ),
            state=a.state,
            download_count=a.download_count,
            created_at=a.created_at,
            updated_at=a.created_at,
            url=f"{self.base_url}/repos/{self.full_name}/releases/assets/{a.id}",
            browser_download_url=f"{self.root}/api/_objects/{a.id}/{quote(a.name)}?tag={tag}",
            uploader=self._user(),
        )
        return d

    def _issue_json(self, i: Issue) -> dict[str, Any]:
        d = self._rewrite(self._spec.component_example("issue"))
        api = f"{self.base_url}/repos/{self.full_name}"
        for key in ("pull_request", "closed_by", "milestone", "assignee", "active_lock_reason"):
            d.pop(key, None)
        d.update(
            id=i.id,
            node_id=self._node_id("Issue", i.id),
            number=i.number,
            title=i.title,
            body=i.body,
            state=i.state,
            locked=False,
            assignee=None,
            assignees=[],
            milestone=None,
            comments=len(i.comments),
            created_at=i.created_at,
            updated_at=i.updated_at,
            closed_at=i.closed_at,
            user=self._user(),
            author_association="MEMBER",
            url=f"{api}/issues/{i.number}",
            repository_url=api,
            labels_url=f"{api}/issues/{i.number}/labels{{/name}}",
            comments_url=f"{api}/issues/{i.number}/comments",
            events_url=f"{api}/issues/{i.number}/events",
            html_url=f"{self.root}/{self.full_name}/issues/{i.number}",
            labels=[self._label_json(name) for name in i.labels],
            state_reason=i.state_reason,
        )
        return d

    def _label_json(self, name: str) -> dict[str, Any]:
        ident = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        return {
            "id": ident,
            "node_id": self._node_id("Label", ident),
            "url": f"{self.base_url}/repos/{self.full_name}/labels/{quote(name)}",
            "name": name,
            "description": None,
            "color": "ededed",
            "default": False,
        }

    def _comment_json(self, issue: Issue, c: Comment) -> dict[str, Any]:
        d = self._rewrite(self._spec.component_example("issue-comment"))
        api = f"{self.base_url}/repos/{self.full_name}"
        d.update(
            id=c.id,
            node_id=self._node_id("IssueComment", c.id),
            body=c.body,
            created_at=c.created_at,
            updated_at=c.created_at,
            url=f"{api}/issues/comments/{c.id}",
            issue_url=f"{api}/issues/{issue.number}",
            html_url=f"{self.root}/{self.full_name}/issues/{issue.number}#issuecomment-{c.id}",
            user=self._user(),
            author_association="MEMBER",
        )
        return d

    def _ruleset_json(self, rs: Ruleset, *, full: bool) -> dict[str, Any]:
        d = self._rewrite(self._spec.component_example("repository-ruleset"))
        d.update(
            id=rs.id,
            node_id=self._node_id("RRS", rs.id),
            name=rs.name,
            target=rs.target,
            enforcement=rs.enforcement,
            source=self.full_name,
            source_type="Repository",
            created_at=rs.created_at,
            updated_at=rs.created_at,
            _links={
                "self": {"href": f"{self.base_url}/repos/{self.full_name}/rulesets/{rs.id}"},
                "html": {"href": f"{self.root}/{self.full_name}/rules/{rs.id}"},
            },
        )
        if full:
            d.update(
                conditions={"ref_name": {"include": rs.include, "exclude": rs.exclude}},
                rules=rs.rules,
                bypass_actors=rs.bypass_actors,
                current_user_can_bypass=rs.current_user_can_bypass,
            )
        else:
            for key in ("conditions", "rules", "bypass_actors", "target"):
                d.pop(key, None)
        return d

    def _permissions(self) -> dict[str, bool]:
        p = self.token_permissions
        admin = p.get("administration") == "write"
        push = p.get("contents") == "write"
        triage = push or p.get("issues") == "write" or p.get("pull_requests") == "write"
        return {"admin": admin, "maintain": admin, "push": push, "triage": triage, "pull": True}

    def _page(self, call: Call, items: list[Any]) -> Reply:
        def number(name: str, default: int) -> int:
            try:
                return int(call.query.get(name, default))
            except ValueError:
                return default

        per_page = min(max(number("per_page", 30), 1), 100)
        page = max(number("page", 1), 1)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(n: int) -> str:
            q = [(k, v) for k, v in call.query.items(multi=True) if k != "page"]
            return f"<{self.root}{call.path}?{urlencode([*q, ('page', str(n))])}>"

        links = []
        if page > 1:
            links.append(f'{link(min(page - 1, last))}; rel="prev"')
        if page < last:
            links.append(f'{link(page + 1)}; rel="next"')
            links.append(f'{link(last)}; rel="last"')
        if page > 1:
            links.append(f'{link(1)}; rel="first"')
        return Reply(200, chunk, {"Link": ", ".join(links)} if links else {})

    # -- releases ------------------------------------------------------------------------

    def _latest(self) -> Release | None:
        candidates = [r for r in self.releases.values() if not r.draft and not r.prerelease]
        if self._latest_id is not None:
            pinned = self.releases.get(self._latest_id)
            if pinned is not None and pinned in candidates:
                return pinned
        if not candidates:
            return None
        return max(candidates, key=lambda r: (r.created_at, r.seq))

    def _apply_make_latest(self, release: Release, make_latest: str | None) -> None:
        """GitHub: drafts and prereleases cannot be latest; `true` (the default for a newly
        published release) pins it; `false` leaves the latest as it is; `legacy` lets the
        creation date decide."""
        if release.draft or release.prerelease:
            return
        if make_latest in (None, "true"):
            self._latest_id = release.id
        elif make_latest == "legacy":
            self._latest_id = None
        elif make_latest == "false" and self._latest_id is None:
            current = self._latest_without(release)
            self._latest_id = current.id if current else None

    def _latest_without(self, release: Release) -> Release | None:
        others = [
            r
            for r in self.releases.values()
            if r is not release and not r.draft and not r.prerelease
        ]
        return max(others, key=lambda r: (r.created_at, r.seq)) if others else None

    def _published_tag_taken(self, tag: str, besides: Release | None = None) -> bool:
        return any(
            r.tag_name == tag and not r.draft and r is not besides for r in self.releases.values()
        )

    def _publish(self, release: Release, make_latest: str | None) -> None:
        """A release leaves draft (or is created published): tag, timestamp, immutability."""
        if self.tag_commit(release.tag_name) is None:
            self._create_tag(release.tag_name, release.target_commitish)
        release.published_at = _now()
        if self.immutable_releases:
            release.immutable = True
        self._apply_make_latest(release, make_latest)

    def _new_release(
        self,
        *,
        tag_name: str,
        name: str | None,
        body: str | None,
        draft: bool,
        prerelease: bool,
        target: str,
        make_latest: str | None,
    ) -> Release:
        if self._published_tag_taken(tag_name):
            raise validation_failed(
                "Release",
                "already_exists",
                "tag_name",
                "https://docs.github.com/rest/releases/releases#create-a-release",
            )
        release = Release(
            id=next(self._ids),
            tag_name=tag_name,
            name=name,
            body=body,
            draft=draft,
            prerelease=prerelease,
            target_commitish=target,
            created_at=_now(),
            published_at=None,
            seq=next(self._seq),
        )
        if not draft:
            self._publish(release, make_latest)
        self.releases[release.id] = release
        return release

    def _release(self, call: Call) -> Release:
        release = self.releases.get(call.int_param("release_id"))
        if release is None or (release.draft and not self._permissions()["push"]):
            raise HTTPError(404, not_found())
        return release

    def _find_asset(self, asset_id: int) -> Asset | None:
        for release in self.releases.values():
            for asset in release.assets:
                if asset.id == asset_id:
                    return asset
        return None

    def _refuse(self, call: Call, reason: str) -> HTTPError:
        self.refused.append(Refused(call.method, call.path, reason))
        return HTTPError(422, {"message": reason, "documentation_url": DOCS, "status": "422"})

    def h_repos_get(self, call: Call) -> Reply:
        d = self._rewrite(self._spec.example("repos/get"))
        for key in ("parent", "source", "template_repository", "organization"):
            d.pop(key, None)
        d.update(
            language="Python",  # required by the schema, missing from GitHub's own example
            license=None,
            id=self.repo_id,
            node_id=self._node_id("Repository", self.repo_id),
            name=self.repo,
            full_name=self.full_name,
            private=self.private,
            visibility="private" if self.private else "public",
            default_branch=self.default_branch,
            permissions=self._permissions(),
            html_url=f"{self.root}/{self.full_name}",
            url=f"{self.base_url}/repos/{self.full_name}",
            clone_url=f"{self.root}/{self.full_name}.git",
            fork=False,
            archived=False,
            disabled=False,
        )
        d["owner"]["login"] = self.owner
        d["owner"]["type"] = "Organization"
        return Reply(200, d)

    def h_list_releases(self, call: Call) -> Reply:
        visible = [r for r in self.releases.values() if not r.draft or self._permissions()["push"]]
        visible.sort(key=lambda r: (r.created_at, r.seq), reverse=True)
        reply = self._page(call, visible)
        reply.body = [self._release_json(r) for r in reply.body]
        return reply

    def h_create_release(self, call: Call) -> Reply:
        self._need("contents")
        body = call.json()
        release = self._new_release(
            tag_name=body["tag_name"],
            name=body.get("name"),  # GitHub answers null for a release created without one
            body=body.get("body"),
            draft=bool(body.get("draft", False)),
            prerelease=bool(body.get("prerelease", False)),
            target=body.get("target_commitish") or self.default_branch,
            make_latest=body.get("make_latest"),
        )
        d = self._release_json(release)
        return Reply(201, d, {"Location": d["url"]})

    def h_get_release(self, call: Call) -> Reply:
        return Reply(200, self._release_json(self._release(call)))

    def h_update_release(self, call: Call) -> Reply:
        self._need("contents")
        release = self._release(call)
        body = call.json()
        if release.immutable:
            for key in ("tag_name", "target_commitish"):
                if key in body and body[key] != getattr(release, key):
                    raise self._refuse(call, f"Cannot change the {key} of an immutable release.")
            if body.get("draft") is True:
                raise self._refuse(call, "Cannot convert an immutable release to a draft.")
        new_tag = body.get("tag_name", release.tag_name)
        publishing = release.draft and body.get("draft") is False
        if (not release.draft or publishing) and self._published_tag_taken(new_tag, release):
            raise validation_failed("Release", "already_exists", "tag_name")
        release.tag_name = new_tag
        for key in ("name", "body", "target_commitish"):
            if key in body and body[key] is not None:
                setattr(release, key, body[key])
        if "prerelease" in body:
            release.prerelease = bool(body["prerelease"])
        if publishing:
            release.draft = False
            self._publish(release, body.get("make_latest"))
        elif body.get("draft") is True and not release.draft:
            release.draft = True
            release.published_at = None
        elif not release.draft and "make_latest" in body:
            self._apply_make_latest(release, body["make_latest"])
        return Reply(200, self._release_json(release))

    def h_delete_release(self, call: Call) -> Reply:
        self._need("contents")
        release = self._release(call)
        # Immutable releases can be deleted too (GitHub allows it); the tag always stays.
        del self.releases[release.id]
        if self._latest_id == release.id:
            self._latest_id = None
        return Reply(204)

    def h_get_release_by_tag(self, call: Call) -> Reply:
        tag = call.params["tag"]
        for release in sorted(self.releases.values(), key=lambda r: r.seq, reverse=True):
            if release.tag_name == tag and not release.draft:
                return Reply(200, self._release_json(release))
        raise HTTPError(404, not_found())

    def h_get_latest_release(self, call: Call) -> Reply:
        latest = self._latest()
        if latest is None:
            raise HTTPError(404, not_found())
        return Reply(200, self._release_json(latest))

    def h_list_release_assets(self, call: Call) -> Reply:
        release = self._release(call)
        reply = self._page(call, list(release.assets))
        reply.body = [self._asset_json(a) for a in reply.body]
        return reply

    def h_upload_release_asset(self, call: Call) -> Reply:
        self._need("contents")
        release = self._release(call)
        name = call.query.get("name")
        if not name:
            raise HTTPError(422, {"message": "Bad Content-Length/name", "documentation_url": DOCS})
        if release.immutable:
            raise self._refuse(call, "Cannot upload assets to an immutable release.")
        if any(a.name == name for a in release.assets):
            raise validation_failed(
                "ReleaseAsset",
                "already_exists",
                "name",
                "https://docs.github.com/rest/releases/assets#upload-a-release-asset",
            )
        content_type = (call.content_type or "application/octet-stream").split(";")[0].strip()
        asset = Asset(
            id=next(self._ids),
            release_id=release.id,
            name=name,
            label=call.query.get("label") or "",
            content_type=content_type,
            data=call.raw,
            created_at=_now(),
        )
        if call.raw_sha256 is not None:
            asset._digest = (call.raw, call.raw_sha256)
        release.assets.append(asset)
        return Reply(201, self._asset_json(asset))

    def h_get_release_asset(self, call: Call) -> Reply:
        asset = self._find_asset(call.int_param("asset_id"))
        if asset is None:
            raise HTTPError(404, not_found())
        if "application/octet-stream" in (call.headers.get("Accept") or ""):
            location = f"{self.root}/api/_objects/{asset.id}/{quote(asset.name)}"
            return Reply(302, b"", {"Location": location}, "text/html;charset=utf-8")
        return Reply(200, self._asset_json(asset))

    def h_delete_release_asset(self, call: Call) -> Reply:
        self._need("contents")
        asset = self._find_asset(call.int_param("asset_id"))
        if asset is None:
            raise HTTPError(404, not_found())
        release = self.releases[asset.release_id]
        if release.immutable:
            raise self._refuse(call, "Cannot delete assets of an immutable release.")
        release.assets.remove(asset)
        return Reply(204)

    def h_get_repo_rulesets(self, call: Call) -> Reply:
        targets = call.query.get("targets")
        items = [
            rs
            for rs in sorted(self.rulesets.values(), key=lambda r: r.id)
            if not targets or rs.target in targets.split(",")
        ]
        reply = self._page(call, items)
        reply.body = [self._ruleset_json(rs, full=False) for rs in reply.body]
        return reply

    def h_get_repo_ruleset(self, call: Call) -> Reply:
        rs = self.rulesets.get(call.int_param("ruleset_id"))
        if rs is None:
            raise HTTPError(404, not_found())
        return Reply(200, self._ruleset_json(rs, full=True))

    def h_check_immutable_releases(self, call: Call) -> Reply:
        if not self.immutable_releases:
            return Reply(404)
        return Reply(200, {"enabled": True, "enforced_by_owner": False})

    # -- issues --------------------------------------------------------------------------

    def _issue(self, call: Call) -> Issue:
        issue = self.issues.get(call.int_param("issue_number"))
        if issue is None:
            raise HTTPError(404, not_found())
        return issue

    def h_list_issues(self, call: Call) -> Reply:
        state = call.query.get("state", "open")
        labels = [x for x in (call.query.get("labels") or "").split(",") if x]
        items = [
            i
            for i in sorted(self.issues.values(), key=lambda i: i.number, reverse=True)
            if (state == "all" or i.state == state) and all(lb in i.labels for lb in labels)
        ]
        reply = self._page(call, items)
        reply.body = [self._issue_json(i) for i in reply.body]
        return reply

    def h_create_issue(self, call: Call) -> Reply:
        self._need("issues")
        body = call.json()
        now = _now()
        number = max(self.issues, default=0) + 1
        labels = [
            lb if isinstance(lb, str) else lb.get("name", "") for lb in body.get("labels", [])
        ]
        issue = Issue(
            id=next(self._ids),
            number=number,
            title=str(body["title"]),
            body=body.get("body"),
            state="open",
            state_reason=None,
            labels=labels,
            created_at=now,
            updated_at=now,
        )
        self.issues[number] = issue
        d = self._issue_json(issue)
        return Reply(201, d, {"Location": d["url"]})

    def h_update_issue(self, call: Call) -> Reply:
        self._need("issues")
        issue = self._issue(call)
        body = call.json()
        if "title" in body and body["title"] is not None:
            issue.title = str(body["title"])
        if "body" in body:
            issue.body = body["body"]
        if "labels" in body:
            issue.labels = [
                lb if isinstance(lb, str) else lb.get("name", "") for lb in body["labels"]
            ]
        if body.get("state") in ("open", "closed") and body["state"] != issue.state:
            issue.state = body["state"]
            if issue.state == "closed":
                issue.closed_at = _now()
                issue.state_reason = body.get("state_reason") or "completed"
            else:
                issue.closed_at = None
                issue.state_reason = "reopened"
        issue.updated_at = _now()
        return Reply(200, self._issue_json(issue))

    def h_create_comment(self, call: Call) -> Reply:
        self._need("issues")
        issue = self._issue(call)
        comment = Comment(next(self._ids), str(call.json()["body"]), _now())
        issue.comments.append(comment)
        issue.updated_at = comment.created_at
        d = self._comment_json(issue, comment)
        return Reply(201, d, {"Location": d["url"]})

    # -- identity and limits -------------------------------------------------------------

    def h_get_authenticated(self, call: Call) -> Reply:
        d = self._rewrite(self._spec.example("users/get-authenticated"))
        # user_view_type is the schema's discriminator, which GitHub's example leaves out
        d.update(login=self.user_login, type="User", user_view_type="private")
        return Reply(200, d)

    def h_rate_limit(self, call: Call) -> Reply:
        d = self._spec.example("rate-limit/get")
        used = len(self.requests)
        for bucket in [d["rate"], *d["resources"].values()]:
            bucket.update(
                limit=5000, remaining=max(0, 5000 - used), used=used, reset=self._rate_reset
            )
        return Reply(200, d)  # the x-ratelimit-* headers it documents are on every response

    # -- actions, checks, statuses (phase 2) ---------------------------------------------

    def _new_run(
        self,
        workflow_id: int,
        head_sha: str,
        head_branch: str | None,
        event: str,
        status: str,
        conclusion: str | None,
    ) -> WorkflowRun:
        if workflow_id not in self.workflows:
            raise KeyError(workflow_id)
        now = _now()
        number = 1 + sum(1 for r in self.runs.values() if r.workflow_id == workflow_id)
        run = WorkflowRun(
            id=next(self._ids),
            workflow_id=workflow_id,
            run_number=number,
            event=event,
            head_branch=head_branch,
            head_sha=head_sha,
            status=status,
            conclusion=conclusion,
            created_at=now,
            updated_at=now,
            display_title=self.workflows[workflow_id].name,
        )
        self.runs[run.id] = run
        return run

    def _workflow(self, call: Call) -> Workflow:
        ident = call.params["workflow_id"]
        for wf in self.workflows.values():
            if str(wf.id) == ident or wf.path.rsplit("/", 1)[-1] == ident:
                return wf
        raise HTTPError(404, not_found())

    def _workflow_json(self, wf: Workflow) -> dict[str, Any]:
        d = self._rewrite(self._spec.example("actions/get-workflow"))
        api = f"{self.base_url}/repos/{self.full_name}"
        d.update(
            id=wf.id,
            node_id=self._node_id("Workflow", wf.id),
            name=wf.name,
            path=wf.path,
            state=wf.state,
            created_at=wf.created_at,
            updated_at=wf.created_at,
            url=f"{api}/actions/workflows/{wf.id}",
            html_url=f"{self.root}/{self.full_name}/blob/{self.default_branch}/{wf.path}",
            badge_url=f"{self.root}/{self.full_name}/workflows/{quote(wf.name)}/badge.svg",
        )
        return d

    def _run_json(self, run: WorkflowRun) -> dict[str, Any]:
        d = self._rewrite(self._spec.component_example("workflow-run"))
        api = f"{self.base_url}/repos/{self.full_name}"
        wf = self.workflows[run.workflow_id]
        repo = d["repository"]
        repo.update(
            id=self.repo_id,
            name=self.repo,
            full_name=self.full_name,
            url=api,
            html_url=f"{self.root}/{self.full_name}",
        )
        repo["owner"]["login"] = self.owner
        d["head_repository"] = dict(repo)
        d.update(
            id=run.id,
            node_id=self._node_id("WorkflowRun", run.id),
            name=wf.name,
            display_title=run.display_title,
            path=wf.path,
            workflow_id=wf.id,
            run_number=run.run_number,
            run_attempt=1,
            event=run.event,
            head_branch=run.head_branch,
            head_sha=run.head_sha,
            status=run.status,
            conclusion=run.conclusion,
            created_at=run.created_at,
            updated_at=run.updated_at,
            run_started_at=run.created_at,
            pull_requests=[],
            url=f"{api}/actions/runs/{run.id}",
            html_url=f"{self.root}/{self.full_name}/actions/runs/{run.id}",
            jobs_url=f"{api}/actions/runs/{run.id}/jobs",
            logs_url=f"{api}/actions/runs/{run.id}/logs",
            check_suite_url=f"{api}/check-suites/{run.id}",
            artifacts_url=f"{api}/actions/runs/{run.id}/artifacts",
            cancel_url=f"{api}/actions/runs/{run.id}/cancel",
            rerun_url=f"{api}/actions/runs/{run.id}/rerun",
            workflow_url=f"{api}/actions/workflows/{wf.id}",
            actor=self._user(),
            triggering_actor=self._user(),
        )
        d["head_commit"] = dict(d["head_commit"] or {}, id=run.head_sha, tree_id=run.head_sha)
        return d

    def _runs_reply(self, call: Call, runs: list[WorkflowRun]) -> Reply:
        q = call.query
        selected = [
            r
            for r in sorted(runs, key=lambda r: r.id, reverse=True)
            if (not q.get("branch") or r.head_branch == q["branch"])
            and (not q.get("event") or r.event == q["event"])
            and (not q.get("head_sha") or r.head_sha == q["head_sha"])
            and (not q.get("status") or q["status"] in (r.status, r.conclusion))
        ]
        reply = self._page(call, selected)
        reply.body = {
            "total_count": len(selected),
            "workflow_runs": [self._run_json(r) for r in reply.body],
        }
        return reply

    def h_dispatch(self, call: Call) -> Reply:
        self._need("actions")
        wf = self._workflow(call)
        body = call.json()
        ref = str(body["ref"])
        branch = ref.removeprefix("refs/heads/")
        sha = self._resolve_commitish(branch)
        if sha is None:
            raise HTTPError(
                422,
                {"message": f"No ref found for: {ref}", "documentation_url": DOCS, "status": "422"},
            )
        if not self.dispatch_starts_runs:
            return Reply(204)
        run = self._new_run(wf.id, sha, branch, "workflow_dispatch", "queued", None)
        run.inputs = dict(body.get("inputs") or {})
        run.steps = list(wf.steps)
        if wf.run_name is not None:
            run.display_title = re.sub(
                r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}",
                lambda m: str(run.inputs.get(m[1], "")),
                wf.run_name,
            )
        if body.get("return_run_details") and self.dispatch_run_details:
            api = f"{self.base_url}/repos/{self.full_name}"
            return Reply(
                200,
                {
                    "workflow_run_id": run.id,
                    "run_url": f"{api}/actions/runs/{run.id}",
                    "html_url": f"{self.root}/{self.full_name}/actions/runs/{run.id}",
                },
            )
        return Reply(204)

    def h_list_workflow_runs(self, call: Call) -> Reply:
        wf = self._workflow(call)
        return self._runs_reply(call, [r for r in self.runs.values() if r.workflow_id == wf.id])

    def h_list_repo_runs(self, call: Call) -> Reply:
        return self._runs_reply(call, list(self.runs.values()))

    def h_get_run(self, call: Call) -> Reply:
        run = self.runs.get(call.int_param("run_id"))
        if run is None:
            raise HTTPError(404, not_found())
        reply = Reply(200, self._run_json(run))
        if run.steps:  # what this read saw, then on to the next step
            run.status, run.conclusion = run.steps.pop(0)
            run.updated_at = _now()
        return reply

    def h_cancel_run(self, call: Call) -> Reply:
        """GitHub cancels asynchronously; here the run is cancelled at once (202, `{}`)."""
        self._need("actions")
        run = self.runs.get(call.int_param("run_id"))
        if run is None:
            raise HTTPError(404, not_found())
        if run.status == "completed":
            raise HTTPError(
                409,
                {
                    "message": "Cannot cancel a workflow run that is completed.",
                    "documentation_url": DOCS,
                },
            )
        run.status, run.conclusion, run.steps = "completed", "cancelled", []
        run.updated_at = _now()
        self.cancelled.append(run.id)
        return Reply(202, {})

    def h_get_workflow(self, call: Call) -> Reply:
        return Reply(200, self._workflow_json(self._workflow(call)))

    def _ref_sha(self, call: Call) -> str:
        ref = call.params["ref"]
        sha = self._resolve_commitish(ref)
        if sha is None:
            raise HTTPError(
                422,
                {"message": f"No commit found for SHA: {ref}", "documentation_url": DOCS},
            )
        return sha

    def h_checks_for_ref(self, call: Call) -> Reply:
        sha = self._ref_sha(call)
        name = call.query.get("check_name")
        status = call.query.get("status")
        selected = [
            c
            for c in self.check_runs
            if c.head_sha == sha
            and (not name or c.name == name)
            and (not status or c.status == status)
        ]
        reply = self._page(call, selected)
        template = self._rewrite(self._spec.example("checks/list-for-ref"))["check_runs"][0]
        runs = []
        for c in reply.body:
            d = json.loads(json.dumps(template))
            d.update(
                id=c.id,
                node_id=self._node_id("CheckRun", c.id),
                head_sha=c.head_sha,
                name=c.name,
                status=c.status,
                conclusion=c.conclusion,
                started_at=c.started_at,
                completed_at=c.completed_at,
                external_id=str(c.id),
                url=f"{self.base_url}/repos/{self.full_name}/check-runs/{c.id}",
                html_url=f"{self.root}/{self.full_name}/runs/{c.id}",
                pull_requests=[],
            )
            runs.append(d)
        reply.body = {"total_count": len(selected), "check_runs": runs}
        for c in self.check_runs:
            if c.head_sha == sha and c.steps:
                c.status, c.conclusion = c.steps.pop(0)
                c.completed_at = _now() if c.status == "completed" else None
        return reply

    def _statuses_for(self, sha: str) -> list[CommitStatus]:
        return sorted((s for s in self.statuses if s.sha == sha), key=lambda s: s.id, reverse=True)

    def _status_json(self, s: CommitStatus, template: dict[str, Any]) -> dict[str, Any]:
        d = json.loads(json.dumps(template))
        d.update(
            id=s.id,
            node_id=self._node_id("StatusContext", s.id),
            state=s.state,
            context=s.context,
            description=s.description,
            target_url=s.target_url,
            created_at=s.created_at,
            updated_at=s.created_at,
            url=f"{self.base_url}/repos/{self.full_name}/statuses/{s.sha}",
        )
        return d

    def h_list_statuses(self, call: Call) -> Reply:
        sha = self._ref_sha(call)
        template = self._rewrite(self._spec.example("repos/list-commit-statuses-for-ref"))[0]
        template["creator"] = self._user()
        reply = self._page(call, self._statuses_for(sha))
        reply.body = [self._status_json(s, template) for s in reply.body]
        return reply

    def h_combined_status(self, call: Call) -> Reply:
        sha = self._ref_sha(call)
        reply = self._combined_status(call, sha)
        self._step_statuses(sha)
        return reply

    def _combined_status(self, call: Call, sha: str) -> Reply:
        d = self._rewrite(self._spec.example("repos/get-combined-status-for-ref"))
        template = d["statuses"][0]
        latest: dict[str, CommitStatus] = {}
        for s in self._statuses_for(sha):
            latest.setdefault(s.context, s)
        states = [s.state for s in latest.values()]
        if any(st in ("error", "failure") for st in states):
            state = "failure"
        elif not states or any(st == "pending" for st in states):
            state = "pending"
        else:
            state = "success"
        reply = self._page(call, list(latest.values()))
        api = f"{self.base_url}/repos/{self.full_name}"
        d["repository"].update(id=self.repo_id, name=self.repo, full_name=self.full_name, url=api)
        d.update(
            state=state,
            sha=sha,
            total_count=len(latest),
            statuses=[self._status_json(s, template) for s in reply.body],
            commit_url=f"{api}/commits/{sha}",
            url=f"{api}/commits/{sha}/status",
        )
        reply.body = d
        return reply

    # -- deployments -------------------------------------------------------------------------

    def _deployment_json(self, d: Deployment) -> dict[str, Any]:
        template = self._rewrite(self._spec.example("repos/get-deployment"))
        api = f"{self.base_url}/repos/{self.full_name}/deployments/{d.id}"
        template.update(
            id=d.id,
            node_id=self._node_id("Deployment", d.id),
            sha=d.sha,
            ref=d.ref,
            task=d.task,
            environment=d.environment,
            original_environment=d.environment,
            description=d.description,
            payload=d.payload,
            creator=self._user(),
            production_environment=d.production,
            transient_environment=d.transient,
            created_at=d.created_at,
            updated_at=d.statuses[-1].created_at if d.statuses else d.created_at,
            url=api,
            statuses_url=f"{api}/statuses",
            repository_url=f"{self.base_url}/repos/{self.full_name}",
        )
        return template

    def _deployment_status_json(self, d: Deployment, st: DeploymentStatus) -> dict[str, Any]:
        template = self._rewrite(self._spec.example("repos/create-deployment-status"))
        api = f"{self.base_url}/repos/{self.full_name}/deployments/{d.id}"
        template.update(
            id=st.id,
            node_id=self._node_id("DeploymentStatus", st.id),
            state=st.state,
            description=st.description,
            environment=st.environment,
            log_url=st.log_url,
            target_url=st.log_url,
            environment_url=st.environment_url,
            creator=self._user(),
            created_at=st.created_at,
            updated_at=st.created_at,
            url=f"{api}/statuses/{st.id}",
            deployment_url=api,
            repository_url=f"{self.base_url}/repos/{self.full_name}",
        )
        return template

    def _deployment(self, call: Call) -> Deployment:
        d = self.deployments.get(call.int_param("deployment_id"))
        if d is None:
            raise HTTPError(404, not_found())
        return d

    def h_list_deployments(self, call: Call) -> Reply:
        self._need("deployments", "read")
        wanted = {k: call.query.get(k) for k in ("sha", "ref", "task", "environment")}
        selected = [
            d
            for d in sorted(self.deployments.values(), key=lambda d: d.id, reverse=True)
            if all(not v or getattr(d, k) == v for k, v in wanted.items())
        ]
        reply = self._page(call, selected)
        reply.body = [self._deployment_json(d) for d in reply.body]
        return reply

    def h_create_deployment(self, call: Call) -> Reply:
        self._need("deployments")
        body = call.json()
        ref = str(body.get("ref", ""))
        sha = self._resolve_commitish(ref)
        if sha is None:
            raise HTTPError(
                422,
                {"message": f"No ref found for: {ref}", "documentation_url": DOCS, "status": "422"},
            )
        production = body.get("production_environment")
        d = self._new_deployment(
            sha,
            ref,
            str(body.get("task", "deploy")),
            str(body.get("environment", "production")),
            body.get("description", ""),
            body.get("payload", ""),
            production=production if isinstance(production, bool) else None,
            transient=bool(body.get("transient_environment", False)),
        )
        return Reply(201, self._deployment_json(d))

    def h_get_deployment(self, call: Call) -> Reply:
        self._need("deployments", "read")
        return Reply(200, self._deployment_json(self._deployment(call)))

    def h_list_deployment_statuses(self, call: Call) -> Reply:
        self._need("deployments", "read")
        d = self._deployment(call)
        reply = self._page(call, sorted(d.statuses, key=lambda st: st.id, reverse=True))
        reply.body = [self._deployment_status_json(d, st) for st in reply.body]
        if d.steps:
            self._post_deployment_status(d, d.steps.pop(0))
        return reply

    def h_create_deployment_status(self, call: Call) -> Reply:
        self._need("deployments")
        d = self._deployment(call)
        body = call.json()
        st = self._post_deployment_status(
            d,
            str(body["state"]),
            log_url=str(body.get("log_url") or body.get("target_url") or ""),
            environment_url=str(body.get("environment_url", "")),
            description=str(body.get("description", "")),
            environment=body.get("environment"),
            auto_inactive=bool(body.get("auto_inactive", True)),
        )
        return Reply(201, self._deployment_status_json(d, st))


GHES_FEATURES = ("rulesets", "immutable-releases", "run-details", "token-expiration")

_DEFAULT_FAULT_BODIES: dict[int, Any] = {
    401: {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"},
    403: {"message": "Forbidden", "documentation_url": DOCS, "status": "403"},
    404: not_found(),
    422: {
        "message": "Validation Failed",
        "errors": [],
        "documentation_url": DOCS,
        "status": "422",
    },
    429: {"message": "API rate limit exceeded", "documentation_url": PRIMARY_RATE_LIMIT_DOCS},
    500: {"message": "Server Error"},
    502: {"message": "Server Error"},
    503: {"message": "Service Unavailable"},
}

_HANDLERS: dict[str, Callable[[GitHubServer, Call], Reply]] = {
    "repos/get": GitHubServer.h_repos_get,
    "repos/list-releases": GitHubServer.h_list_releases,
    "repos/create-release": GitHubServer.h_create_release,
    "repos/get-release": GitHubServer.h_get_release,
    "repos/update-release": GitHubServer.h_update_release,
    "repos/delete-release": GitHubServer.h_delete_release,
    "repos/get-release-by-tag": GitHubServer.h_get_release_by_tag,
    "repos/get-latest-release": GitHubServer.h_get_latest_release,
    "repos/list-release-assets": GitHubServer.h_list_release_assets,
    "repos/upload-release-asset": GitHubServer.h_upload_release_asset,
    "repos/get-release-asset": GitHubServer.h_get_release_asset,
    "repos/delete-release-asset": GitHubServer.h_delete_release_asset,
    "repos/get-repo-rulesets": GitHubServer.h_get_repo_rulesets,
    "repos/get-repo-ruleset": GitHubServer.h_get_repo_ruleset,
    "repos/check-immutable-releases": GitHubServer.h_check_immutable_releases,
    "issues/list-for-repo": GitHubServer.h_list_issues,
    "issues/create": GitHubServer.h_create_issue,
    "issues/update": GitHubServer.h_update_issue,
    "issues/create-comment": GitHubServer.h_create_comment,
    "users/get-authenticated": GitHubServer.h_get_authenticated,
    "rate-limit/get": GitHubServer.h_rate_limit,
    "actions/create-workflow-dispatch": GitHubServer.h_dispatch,
    "actions/list-workflow-runs": GitHubServer.h_list_workflow_runs,
    "actions/list-workflow-runs-for-repo": GitHubServer.h_list_repo_runs,
    "actions/get-workflow-run": GitHubServer.h_get_run,
    "actions/cancel-workflow-run": GitHubServer.h_cancel_run,
    "actions/get-workflow": GitHubServer.h_get_workflow,
    "checks/list-for-ref": GitHubServer.h_checks_for_ref,
    "repos/get-combined-status-for-ref": GitHubServer.h_combined_status,
    "repos/list-commit-statuses-for-ref": GitHubServer.h_list_statuses,
    "repos/list-deployments": GitHubServer.h_list_deployments,
    "repos/create-deployment": GitHubServer.h_create_deployment,
    "repos/get-deployment": GitHubServer.h_get_deployment,
    "repos/list-deployment-statuses": GitHubServer.h_list_deployment_statuses,
    "repos/create-deployment-status": GitHubServer.h_create_deployment_status,
}
