"""The `github` forge: releases and their assets through GitHub's REST API.

PyGithub is imported here only, and only when a request is made: `rcflow status --help` and a
repository on the local forge never pay for it. Every call goes through `_call`, which retries
what GitHub says is transient (5xx, dropped connections, secondary rate limits) with exponential
backoff and jitter, and turns everything else into one line that says what to fix. The token
never reaches a message: errors are built from GitHub's status and message only.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from rcflow.errors import ConflictError, EffectError, RcflowError
from rcflow.model.remotes import PUBLIC_HOSTS as _PUBLIC_HOSTS
from rcflow.model.remotes import github_repo as github_repo
from rcflow.ports.ci import (
    CheckFact,
    DeploymentFact,
    Dispatched,
    NotDispatched,
    RunFact,
    StatusFact,
)
from rcflow.ports.forge import (
    BUFFER,
    RETRACTED_MARKER,
    AssetFact,
    HashingWriter,
    ReleaseFact,
    sha256_file,
)

PUBLIC_API = "https://api.github.com"
TOKEN_VARS = ("GITHUB_TOKEN", "GH_TOKEN")
# A wait longer than this (an exhausted hourly quota) is not worth holding the lease for: fail
# with the time to resume instead.
_MAX_WAIT = 120.0

T = TypeVar("T")


class GitHubError(EffectError):
    """A GitHub API call that failed for good; the message says what to fix."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


def web_hosts(api_url: str) -> tuple[str, ...]:
    """The git hosts that belong to an API: github.com for the public API, else the GHES host."""
    if api_url.rstrip("/") == PUBLIC_API:
        return _PUBLIC_HOSTS
    host = (urlsplit(api_url).hostname or "").lower()
    return (host, host.removeprefix("api."))


def token_from_env(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    for name in TOKEN_VARS:
        if env.get(name):
            return env[name]
    return None


@dataclass(frozen=True)
class RepoFacts:
    """What GitHub says about the repository and the token (for preflight checks)."""

    full_name: str  # the canonical owner/repo (after a rename or transfer)
    can_push: bool
    token_expires: str | None  # GitHub's github-authentication-token-expiration header
    # GitHub Enterprise Server's x-github-enterprise-version header (None: github.com); an
    # older server lacks features rcflow checks with, which then go unchecked (a warning).
    enterprise_version: str | None = None


class GitHubForge:
    name = "github"

    def __init__(
        self,
        repository: str,
        token: str | None,
        *,
        api_url: str = PUBLIC_API,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        timeout: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.attempts = attempts
        self.sleep = sleep  # the retries' waits, and the CI pollers' (see rcflow.ports.ci)
        self.clock = clock
        self.timeout = timeout
        self._repo: Any = None
        self._listed: dict[str, Any] = {}  # the newest listing's release objects, by tag
        self.waits: list[float] = []  # what the retries waited, for the curious (and tests)

    # -- plumbing --------------------------------------------------------------------------

    def _client_repo(self) -> Any:
        if self._repo is None:
            if not self._token:
                raise GitHubError(
                    "no GitHub token: set GITHUB_TOKEN or GH_TOKEN",
                    hint="a token with contents: write (and actions: write to dispatch workflows)",
                )
            from github import Auth, Github

            # GitHub asks clients to space writes on github.com (secondary rate limits); an
            # Enterprise server or a test server has its own limits, which the retries handle.
            public = self.api_url == PUBLIC_API
            client = Github(
                base_url=self.api_url,
                auth=Auth.Token(self._token),
                retry=None,  # one retry policy, ours: it knows which writes are safe to repeat
                timeout=self.timeout,
                per_page=100,
                seconds_between_requests=None,
                seconds_between_writes=1.0 if public else None,
                lazy=True,
            )
            self._repo = client.get_repo(self.repository)
        return self._repo

    def _call(self, what: str, fn: Callable[[], T], *, missing: str | None = None) -> T:
        """A read, retried while GitHub says the failure is transient.

        `missing`: what a 404 means is absent (the repository, a run); without it a 404 is
        reported as the answer to `what`, which may be an endpoint this server lacks.
        """
        answer: list[T] = []
        self._attempts(what, lambda: answer.append(fn()), None, missing)
        return answer[0]

    def _write(
        self, what: str, fn: Callable[[], object], *, landed: Callable[[], bool] | None = None
    ) -> None:
        """A write, retried likewise. Its answer may have been lost after GitHub acted: before
        repeating it, `landed` asks whether it happened (a retried create makes no second draft).
        """
        self._attempts(what, fn, landed)

    def _attempts(
        self,
        what: str,
        fn: Callable[[], object],
        landed: Callable[[], bool] | None,
        missing: str | None = None,
    ) -> None:
        from github import GithubException
        from requests import exceptions as http

        for attempt in range(1, self.attempts + 1):
            try:
                fn()
                return
            except GithubException as exc:
                wait = _transient_wait(exc.status, _headers(exc), _message(exc), attempt)
                if wait is None or attempt == self.attempts:
                    raise _explain(
                        what, exc.status, _headers(exc), exc.data, missing=missing
                    ) from None
            except (http.ConnectionError, http.Timeout, http.ChunkedEncodingError) as exc:
                wait = _backoff(attempt)
                if attempt == self.attempts:
                    raise GitHubError(
                        f"GitHub did not answer while {what} ({type(exc).__name__}) "
                        f"after {self.attempts} attempts"
                    ) from None
            if wait > _MAX_WAIT:
                raise GitHubError(
                    f"GitHub's rate limit stops {what} for {wait:.0f}s",
                    status=429,
                    hint="resume after the limit resets",
                )
            self.waits.append(wait)
            self.sleep(wait)
            if landed is not None and self._quiet(landed):
                return

    def _quiet(self, check: Callable[[], bool]) -> bool:
        try:
            return check()
        except Exception:  # a failed look is not an answer; the retry decides
            return False

    def _list(self) -> list[Any]:
        repo = self._client_repo()
        listed: list[Any] = self._call(
            "listing releases", lambda: list(repo.get_releases()), missing=self.repository
        )
        # Two drafts for one tag can only come from outside rcflow; the published one wins.
        self._listed = {r.tag_name: r for r in sorted(listed, key=lambda r: (not r.draft, r.id))}
        return listed

    def _find(self, tag: str) -> Any:
        """The release for tag, drafts included (GitHub's by-tag lookup skips drafts).

        The executor reads `releases()` right before each write, so the object that listing
        returned is the one to write to; a release this run changed is listed afresh.
        """
        if tag not in self._listed:
            self._list()
        if tag not in self._listed:
            raise GitHubError(f"GitHub has no release {tag}", status=404)
        return self._listed[tag]

    def _changed(self, tag: str) -> None:
        self._listed.pop(tag, None)

    def _latest_id(self) -> int | None:
        from github import UnknownObjectException

        repo = self._client_repo()

        def get() -> int | None:
            try:
                return int(repo.get_latest_release().id)
            except UnknownObjectException:
                return None

        return self._call("reading the latest release", get)

    # -- reads -----------------------------------------------------------------------------

    def releases(self) -> Mapping[str, ReleaseFact]:
        found: dict[str, ReleaseFact] = {}
        raw = self._list()
        latest = self._latest_id() if any(not r.draft for r in raw) else None
        for r in sorted(raw, key=lambda r: (not r.draft, r.id)):  # published after drafts
            body = r.body or ""
            found[r.tag_name] = ReleaseFact(
                tag=r.tag_name,
                title=r.name or "",
                prerelease=bool(r.prerelease),
                retracted=body.startswith(RETRACTED_MARKER),
                notes=body,
                draft=bool(r.draft),
                latest=r.id == latest,
                assets=tuple(
                    AssetFact(a["name"], int(a["size"]), _digest(a.get("digest")))
                    for a in _raw(r).get("assets", [])
                    if a.get("state", "uploaded") == "uploaded"
                ),
                url=r.html_url or "",
            )
        return found

    def repo_facts(self) -> RepoFacts:
        repo = self._client_repo()

        def get() -> RepoFacts:
            path = f"/repos/{self.repository}"
            headers, data = repo._requester.requestJsonAndCheck("GET", path)
            lower = {k.lower(): v for k, v in headers.items()}
            permissions = data.get("permissions") or {}
            return RepoFacts(
                full_name=str(data["full_name"]),
                can_push=bool(permissions.get("push")),
                token_expires=lower.get("github-authentication-token-expiration"),
                enterprise_version=lower.get("x-github-enterprise-version"),
            )

        return self._call(f"reading {self.repository}", get, missing=self.repository)

    def _get_json(self, what: str, path: str) -> Any:
        """A GET PyGithub has no object for; path is relative to the repository's API URL."""
        repo = self._client_repo()
        url = f"/repos/{self.repository}{path}"

        def get() -> Any:
            _headers, data = repo._requester.requestJsonAndCheck("GET", url)
            return data

        # The endpoint goes into `what`: a 404 from it may mean this server lacks it.
        return self._call(f"{what} (GET {url.partition('?')[0]})", get)

    def rulesets(self) -> list[dict[str, Any]]:
        """Every active or evaluating ruleset with its conditions, rules and bypass verdict.

        A GitHub Enterprise Server before 3.11 has no rulesets API: it answers 404, raised as a
        GitHubError naming the endpoint (the repository itself was just read).
        """
        summaries = self._get_json("reading rulesets", "/rulesets?includes_parents=true")
        found = []
        for summary in summaries or []:
            if summary.get("enforcement") == "disabled":
                continue
            found.append(self._get_json("reading a ruleset", f"/rulesets/{int(summary['id'])}"))
        return found

    def immutable_releases(self) -> bool | None:
        """Whether published releases are immutable here (None: this server cannot say).

        GitHub answers a bodiless 404 when the setting is off; a GitHub Enterprise Server
        without the feature answers its generic 404 (an error body) for the unknown route.
        """
        from github import GithubException

        repo = self._client_repo()
        url = f"/repos/{self.repository}/immutable-releases"

        def get() -> tuple[int, dict[str, str], str]:
            status, headers, body = repo._requester.requestJson("GET", url)
            lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
            if status >= 400 and status != 404:
                raise GithubException(status, _json(body), lower)
            return status, lower, body or ""

        status, headers, body = self._call(
            f"reading the immutable-releases setting (GET {url})", get
        )
        if status == 404:
            if "x-github-enterprise-version" in headers and body.strip():
                return None
            return False
        data = _json(body)
        return bool(data.get("enabled")) if isinstance(data, dict) else None

    def _open_issue(self, title: str, label: str) -> Any:
        repo = self._client_repo()
        issues = self._call(
            "listing issues", lambda: list(repo.get_issues(state="open", labels=[label]))
        )
        return next(
            (i for i in issues if i.title == title and not _raw(i).get("pull_request")), None
        )

    def report_issue(self, title: str, body: str, *, label: str = "rcflow") -> str:
        """Open one issue per title, or comment on the open one; returns its URL."""
        repo = self._client_repo()
        issue = self._open_issue(title, label)
        if issue is None:
            issue = self._call(
                f"opening the issue {title!r}",
                lambda: repo.create_issue(title=title, body=body, labels=[label]),
            )
        else:
            self._write(f"commenting on issue #{issue.number}", lambda: issue.create_comment(body))
        return str(issue.html_url)

    def resolve_issue(self, title: str, comment: str, *, label: str = "rcflow") -> str | None:
        """Close the open issue with this title, saying why; None when there is none."""
        issue = self._open_issue(title, label)
        if issue is None:
            return None
        self._write(f"commenting on issue #{issue.number}", lambda: issue.create_comment(comment))
        self._write(f"closing issue #{issue.number}", lambda: issue.edit(state="closed"))
        return str(issue.html_url)

    def download_asset(self, tag: str, name: str, dest: Path) -> str:
        release = self._find(tag)
        asset = next((a for a in _raw(release).get("assets", []) if a["name"] == name), None)
        if asset is None:
            raise GitHubError(f"{tag} has no asset {name} on GitHub", status=404)
        url = str(asset["url"])
        digests: list[str] = []

        def fetch() -> None:
            import requests

            headers = {
                "Accept": "application/octet-stream",
                "Authorization": f"Bearer {self._token}",
                "User-Agent": "rcflow",
            }
            # requests drops the Authorization header when the redirect leaves the API host
            # (GitHub serves asset bytes from another domain).
            with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as answer:
                if answer.status_code >= 400:
                    from github import GithubException

                    raise GithubException(answer.status_code, {}, dict(answer.headers))
                with dest.open("wb") as fh:
                    out = HashingWriter(fh)  # hashed as it lands: the bytes are read once
                    for block in answer.iter_content(BUFFER):
                        out.write(block)
                digests.append(out.hexdigest())

        self._call(f"downloading {name} from {tag}", fetch)
        return digests[-1]

    # -- writes ----------------------------------------------------------------------------

    def create_release(
        self, tag: str, title: str, notes: str, *, prerelease: bool, draft: bool = False
    ) -> None:
        repo = self._client_repo()
        self._write(
            f"creating the release {tag}",
            lambda: repo.create_git_release(
                tag,
                name=title,
                message=notes,
                draft=draft,
                prerelease=prerelease,
                make_latest="false",  # a final becomes latest when it is published, not before
            ),
            landed=lambda: tag in self.releases(),
        )

    def upload_asset(
        self, tag: str, path: Path, name: str, *, sha256: str | None = None
    ) -> str | None:
        """Without sha256 the bytes are hashed as they are sent (one read of the file, not two)
        and that digest is returned; GitHub's digest of what it stored checks either."""
        import hashlib

        sent: list[str] = []  # the digest of the last body sent whole, when hashed on the way

        def digest() -> str:
            return sha256 or (sent[-1] if sent else None) or sha256_file(path)

        def landed() -> bool:
            fact = self.releases()[tag].asset(name)
            return fact is not None and fact.sha256 in (digest(), None)

        stored: list[str | None] = []

        def upload() -> None:
            release = self._unblocked(tag, name)
            with path.open("rb", buffering=0) as fh:
                size = os.fstat(fh.fileno()).st_size
                body = _FileBody(fh, size, None if sha256 else hashlib.sha256(), label=name)
                try:
                    answer = release.upload_asset_from_memory(
                        body, size, name, content_type="application/octet-stream"
                    )
                    hashed = body.finish()
                finally:
                    body.close()  # no thread outlives the attempt, however it ended
            if hashed is not None:
                sent.append(hashed)
            stored.append(_digest(_raw(answer).get("digest")))

        self._write(f"uploading {name} to {tag}", upload, landed=landed)
        expected = digest()
        # GitHub answers with the digest of what it stored: the upload is verified once, by it.
        if stored and stored[-1] is not None and stored[-1] != expected:
            self._changed(tag)
            self.delete_asset(tag, name)
            raise EffectError(
                f"GitHub stored other bytes for {name} on {tag} (sha256 {stored[-1][:12]}… ≠ "
                f"{expected[:12]}… sent): the upload was removed",
                hint="re-run to upload it again",
            )
        return expected

    def copy_asset(self, source: str, tag: str, name: str, sha256: str) -> str:
        """GitHub has no copy: the download is streamed into the upload, verified once.

        The bytes are read once and touch no disk. GitHub hashes what it stores and answers the
        upload with that digest: the bytes the final will serve, checked against sha256 (a
        second hash here, of the stream on its way, would check the same bytes again and cost
        the pass the forge already made). When they are not sha256 the upload is deleted (the
        target is a draft nobody has seen); should that delete never happen, the next run sees
        GitHub's digest of the asset differ and replaces it. A GitHub that reports no digests
        (an older Enterprise Server) could not show any of that, so there the bytes are
        downloaded and checked before they are uploaded.
        """
        release = self._find(source)
        asset = next((a for a in _raw(release).get("assets", []) if a["name"] == name), None)
        if asset is None:
            raise GitHubError(f"{source} has no asset {name} on GitHub", status=404)
        if _digest(asset.get("digest")) is None:
            return self._copy_through_disk(source, tag, name, sha256)
        url, size = str(asset["url"]), int(asset["size"])
        digests: list[str] = []

        def stream() -> None:
            import requests

            target = self._unblocked(tag, name)

            with requests.get(
                url, headers=self._download_headers(), stream=True, timeout=self.timeout
            ) as answer:
                if answer.status_code >= 400:
                    from github import GithubException

                    raise GithubException(answer.status_code, {}, dict(answer.headers))
                body = _Body(_readinto(answer.raw), size)
                stored = target.upload_asset_from_memory(
                    body, size, name, content_type="application/octet-stream"
                )
                digests.append(_digest(_raw(stored).get("digest")) or "")

        def landed() -> bool:
            self._changed(tag)
            fact = self.releases()[tag].asset(name)
            return fact is not None and fact.sha256 == sha256

        self._write(f"copying {name} from {source} to {tag}", stream, landed=landed)
        self._changed(tag)
        actual = digests[-1] if digests else sha256  # no answer, but GitHub holds sha256
        if not actual:  # an answer without the digest: the listing says what GitHub stored
            fact = self.releases()[tag].asset(name)
            actual = (fact.sha256 if fact is not None else None) or ""
        if not actual:  # stored bytes nobody can check: gone, then copied the checked way
            self.delete_asset(tag, name)
            return self._copy_through_disk(source, tag, name, sha256)
        if actual != sha256:
            self.delete_asset(tag, name)
        return actual

    def _unblocked(self, tag: str, name: str) -> Any:
        """tag's release, without an unfinished asset named name: an upload cut off midway
        (this attempt's predecessor, or a run that was killed) leaves one in the "starter"
        state, which blocks the name until it is deleted. Before each attempt: a retry follows
        a look at the release (`landed`), so what it finds is current."""
        release = self._find(tag)
        for asset in _raw(release).get("assets", []):
            if asset["name"] == name and asset.get("state") != "uploaded":
                self._delete_asset(int(asset["id"]), name)
                self._changed(tag)
        return release

    def _copy_through_disk(self, source: str, tag: str, name: str, sha256: str) -> str:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="rcflow-carry-") as scratch:
            path = Path(scratch) / name
            actual = self.download_asset(source, name, path)
            if actual == sha256:
                self.upload_asset(tag, path, name, sha256=actual)
        return actual

    def _download_headers(self) -> dict[str, str]:
        # requests drops the Authorization header when the redirect leaves the API host
        # (GitHub serves asset bytes from another domain).
        return {
            "Accept": "application/octet-stream",
            "Authorization": f"Bearer {self._token}",
            "User-Agent": "rcflow",
        }

    def delete_asset(self, tag: str, name: str) -> None:
        release = self._find(tag)
        for asset in _raw(release).get("assets", []):
            if asset["name"] == name:
                self._delete_asset(int(asset["id"]), name)

    def _delete_asset(self, asset_id: int, name: str) -> None:
        repo = self._client_repo()
        url = f"{repo.url}/releases/assets/{asset_id}"
        self._write(
            f"removing the unfinished upload {name}",
            lambda: repo._requester.requestJsonAndCheck("DELETE", url),
        )

    def publish_release(self, tag: str, *, latest: bool) -> None:
        release = self._find(tag)
        self._write(
            f"publishing {tag}",
            lambda: release.update_release(
                release.name or tag,
                release.body or "",
                draft=False,
                prerelease=bool(release.prerelease),
                make_latest="true" if latest else "false",
            ),
        )
        self._changed(tag)

    def set_latest(self, tag: str) -> None:
        release = self._find(tag)
        self._write(
            f"making {tag} the latest release",
            lambda: release.update_release(
                release.name or tag,
                release.body or "",
                draft=False,
                prerelease=False,
                make_latest="true",
            ),
        )
        self._changed(tag)

    def retract_release(self, tag: str, note: str) -> None:
        release = self._find(tag)
        body = release.body or ""
        if body.startswith(RETRACTED_MARKER):
            return
        self._write(
            f"retracting {tag}",
            lambda: release.update_release(
                release.name or tag,
                f"{RETRACTED_MARKER}\n> [!WARNING]\n> {note}\n\n{body}",
                draft=False,
                prerelease=True,
                make_latest="false",
            ),
        )
        self._changed(tag)

    def delete_release(self, tag: str) -> None:
        try:
            release = self._find(tag)
        except GitHubError as exc:
            if exc.status == 404:
                return
            raise
        self._write(
            f"deleting the release {tag}",
            release.delete_release,
            landed=lambda: tag not in self.releases(),
        )
        self._changed(tag)

    # -- CI: workflow runs, check runs, commit statuses (rcflow.ports.ci.CI) ---------------------

    def dispatch_workflow(
        self, workflow: str, ref: str, inputs: Mapping[str, str], *, sha: str, correlation: str
    ) -> Dispatched:
        """Dispatch workflow on ref, asking for the run's id (`return_run_details`).

        A dispatch is not idempotent: when the answer is lost, the retry first looks for the
        run by its correlation id, so a dispatch that landed is never sent twice.
        """
        repo = self._client_repo()
        wf = repo.get_workflow(workflow)
        started = self.clock()
        found: list[RunFact] = []

        def landed() -> bool:
            run = self.find_run(workflow, sha=sha, correlation=correlation, since=started)
            found.extend([run] if run else [])
            return run is not None

        answers: list[Dispatched] = []
        details = [True]

        def send() -> None:
            from github import GithubException

            try:
                answer = wf.create_dispatch(
                    ref, dict(inputs), throw=True, return_run_details=details[0]
                )
            except GithubException as exc:
                # A server that validates the body strictly and does not know the key refuses
                # it, and started nothing: ask again the older way.
                if exc.status != 422 or "return_run_details" not in _message(exc):
                    raise
                details[0] = False
                answer = wf.create_dispatch(ref, dict(inputs), throw=True)
            if answer is True:  # 204: an API version that does not say which run it started
                answers.append(Dispatched(None, None))
            else:
                answers.append(Dispatched(int(answer.id), str(answer.html_url or "") or None))

        try:
            self._write(f"dispatching {workflow} on {ref}", send, landed=landed)
        except GitHubError as exc:
            if exc.status == 404:
                raise NotDispatched(
                    f"GitHub has no workflow {workflow} in {self.repository}, or the token "
                    f"cannot see it, while dispatching it on {ref} (404)",
                    hint=f"check that .github/workflows/{workflow} exists on the default branch",
                ) from None
            if exc.status is not None and 400 <= exc.status < 500:
                raise NotDispatched(exc.message, hint=exc.hint) from None
            raise
        if answers:
            return answers[-1]
        run = found[-1] if found else None  # the lost answer's dispatch landed: the run was found
        return Dispatched(run.id if run else None, run.url if run else None)

    def find_run(
        self, workflow: str, *, sha: str, correlation: str, since: float
    ) -> RunFact | None:
        repo = self._client_repo()
        wf = repo.get_workflow(workflow)

        def look() -> RunFact | None:
            # Newest first; runs made before the dispatch (less a minute of clock skew) are
            # not it, and mark where to stop paging.
            for raw in wf.get_runs(event="workflow_dispatch", head_sha=sha):
                run = _run_fact(raw)
                if run.created_at < since - 60:
                    return None
                if correlation in run.title:
                    return run
            return None

        return self._call(f"looking for the run of {workflow}", look)

    def get_run(self, run_id: int) -> RunFact:
        repo = self._client_repo()
        return self._call(
            f"reading workflow run {run_id}",
            lambda: _run_fact(repo.get_workflow_run(run_id)),
            missing=f"workflow run {run_id} in {self.repository}",
        )

    def cancel_run(self, run_id: int) -> None:
        """Ask GitHub to cancel a run rcflow gave up waiting for (409: it finished meanwhile)."""
        repo = self._client_repo()
        url = f"/repos/{self.repository}/actions/runs/{run_id}/cancel"
        try:
            self._write(
                f"cancelling workflow run {run_id}",
                lambda: repo._requester.requestJsonAndCheck("POST", url),
            )
        except GitHubError as exc:
            if exc.status != 409:
                raise

    def check_runs(self, sha: str) -> list[CheckFact]:
        repo = self._client_repo()

        def get() -> list[CheckFact]:
            newest: dict[str, tuple[int, CheckFact]] = {}
            # Attributes, not raw_data: that would fetch each check run once more.
            for raw in repo.get_commit(sha).get_check_runs(filter="latest"):
                fact = CheckFact(
                    name=str(raw.name),
                    status=str(raw.status),
                    conclusion=raw.conclusion,
                    url=str(raw.html_url or raw.url or ""),
                )
                ident = int(raw.id)
                if fact.name not in newest or newest[fact.name][0] < ident:
                    newest[fact.name] = (ident, fact)
            return [fact for _, fact in newest.values()]

        return self._call(f"reading the check runs of {sha[:7]}", get)

    def commit_statuses(self, sha: str) -> list[StatusFact]:
        repo = self._client_repo()

        def get() -> list[StatusFact]:
            # The combined status: the newest status of each context (100: one page for any
            # reasonable number of contexts; PyGithub's own call asks for GitHub's default 30).
            url = f"{repo.url}/commits/{sha}/status"
            _, data = repo._requester.requestJsonAndCheck("GET", url, parameters={"per_page": 100})
            return [
                StatusFact(
                    context=str(d["context"]),
                    state=str(d["state"]),
                    url=d.get("target_url"),
                    description=d.get("description"),
                )
                for d in (data.get("statuses") or [])
            ]

        return self._call(f"reading the commit statuses of {sha[:7]}", get)

    def deployment(self, sha: str, environment: str) -> DeploymentFact | None:
        """The newest deployment of sha to environment, and its latest status.

        PyGithub asks with the deployment previews' media types, so an older GitHub Enterprise
        Server also reports the `inactive`, `queued` and `in_progress` states. GitHub lists
        newest first; the highest id on the first page is taken all the same (ids only grow).
        """
        repo = self._client_repo()

        def get() -> DeploymentFact | None:
            listed = repo.get_deployments(sha=sha, environment=environment).get_page(0)
            # What the filter returned is checked again: evidence is about this sha only.
            mine = [
                d
                for d in listed
                if str(_raw(d).get("sha")) == sha
                and str(_raw(d).get("environment", "")).lower() == environment.lower()
            ]
            if not mine:
                return None
            newest_obj = max(mine, key=lambda d: int(_raw(d)["id"]))
            newest = _raw(newest_obj)
            statuses = [_raw(st) for st in newest_obj.get_statuses().get_page(0)]
            latest = max(statuses, key=lambda st: int(st["id"]), default=None)
            status_url = None
            if latest is not None:
                status_url = latest.get("log_url") or latest.get("target_url") or latest.get("url")
            return DeploymentFact(
                id=int(newest["id"]),
                environment=str(newest.get("environment") or environment),
                sha=sha,
                url=str(newest.get("url") or ""),
                created_at=str(newest.get("created_at") or ""),
                state=str(latest["state"]) if latest is not None else None,
                status_url=str(status_url) if status_url else None,
                environment_url=(latest.get("environment_url") or None) if latest else None,
                status_at=(str(latest.get("created_at") or "") or None) if latest else None,
            )

        return self._call(f"reading the deployments of {sha[:7]} to {environment}", get)


def _run_fact(run: Any) -> RunFact:
    """A PyGithub WorkflowRun's facts (its attributes: raw_data would fetch it once more)."""
    created = run.created_at
    return RunFact(
        id=int(run.id),
        status=str(run.status or ""),
        conclusion=run.conclusion,
        url=str(run.html_url or ""),
        title=str(run.display_title or run.name or ""),
        head_sha=str(run.head_sha or ""),
        created_at=created.timestamp() if isinstance(created, datetime) else 0.0,
    )


# -- error handling ------------------------------------------------------------------------


def _raw(obj: Any) -> dict[str, Any]:
    """The JSON a listing returned for obj.

    PyGithub's `raw_data` first fetches the object again when it came from a list (one more
    request per release or issue); what rcflow reads is all in the listing.
    """
    data: dict[str, Any] = obj._rawData
    return data


def _json(body: object) -> Any:
    import json

    try:
        return json.loads(body) if isinstance(body, str | bytes) and body else {}
    except ValueError:
        return {}


def _digest(value: object) -> str | None:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value.removeprefix("sha256:")
    return None


def _headers(exc: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}


def _message(exc: Any) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    return str(data.get("message") or exc.message or "")


def _backoff(attempt: int) -> float:
    """1, 2, 4, 8 … seconds (at most 30), each with ±50% jitter so racing runs spread out."""
    import random

    base: float = min(30.0, 2.0 ** (attempt - 1))
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not cryptography


def _transient_wait(
    status: int, headers: Mapping[str, str], message: str, attempt: int
) -> float | None:
    """Seconds to wait before retrying, or None when the failure will not go away by itself."""
    if status >= 500 or status == 0:
        return _backoff(attempt)
    if status not in (403, 429):
        return None
    if "retry-after" in headers:
        try:
            return max(float(headers["retry-after"]), 0.0)
        except ValueError:
            from email.utils import parsedate_to_datetime  # an HTTP date: rare, so lazily

            try:
                when = parsedate_to_datetime(headers["retry-after"]).timestamp()
                return max(when - time.time(), 0.0)
            except (TypeError, ValueError):
                return _backoff(attempt)
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            return max(float(headers["x-ratelimit-reset"]) - time.time(), 0.0) + 1.0
        except ValueError:
            return _backoff(attempt)
    if status == 429 or "rate limit" in message.lower():
        # GitHub: without a header, wait at least a minute before retrying a secondary limit.
        return max(60.0, _backoff(attempt))
    return None


def _explain(
    what: str, status: int, headers: Mapping[str, str], data: object, *, missing: str | None
) -> RcflowError:
    body = data if isinstance(data, dict) else {}
    message = str(body.get("message") or "").strip()
    if status == 401:
        return GitHubError(
            f"GitHub refused the token while {what} (401 {message or 'Bad credentials'}): "
            "it is wrong, revoked or expired",
            status=status,
            hint="set GITHUB_TOKEN or GH_TOKEN to a valid token",
        )
    if status == 403:
        needs = headers.get("x-accepted-github-permissions")
        need = f": the token needs {needs.replace('=', ': ')}" if needs else ""
        return GitHubError(
            f"GitHub denied {what} (403 {message or 'Forbidden'}){need}",
            status=status,
            hint="grant the permission to the token (in a workflow: `permissions:`), then resume",
        )
    if status == 404 and missing is not None:
        return GitHubError(
            f"GitHub has no {missing}, or the token cannot see it, while {what} (404)",
            status=status,
            hint="check github_repository and the remote URL; a private repository needs a "
            "token with access to it",
        )
    if status == 404:
        server = headers.get("x-github-enterprise-version")
        on = f" (GitHub Enterprise Server {server})" if server else ""
        return GitHubError(
            f"GitHub{on} answered 404 Not Found while {what}",
            status=status,
            hint="this server may not offer it (an older GitHub Enterprise Server), or the "
            "token lacks access to it",
        )
    if status == 422:
        details = []
        for e in body.get("errors") or []:
            if isinstance(e, dict):
                details.append(
                    str(e.get("message") or f"{e.get('field', '')} {e.get('code', '')}".strip())
                )
            else:
                details.append(str(e))
        detail = f": {'; '.join(details)}" if details else ""
        if any("already_exists" in d for d in details):
            return ConflictError(f"GitHub already has it while {what} (422 {message}{detail})")
        return GitHubError(
            f"GitHub rejected {what} (422 {message or 'Unprocessable'}{detail})", status=status
        )
    return GitHubError(f"GitHub failed while {what} ({status} {message or 'error'})", status=status)


class _Body:
    """An upload's body, read as the upload asks for it in blocks of BUFFER (http.client's own
    are 16 KiB: 65,536 writes for 1 GiB) into one buffer used again for each block (no new
    memory per block, no copy between the source and the socket), up to the announced size (a
    longer source cannot send more than Content-Length); hashed on its way when `digest` is
    given. Each block is sent before the next is asked for, so handing out the buffer is safe."""

    def __init__(
        self, readinto: Callable[[memoryview], int | None], size: int, digest: Any = None
    ) -> None:
        self._readinto = readinto
        self._left = size
        self._buffer = memoryview(bytearray(max(1, min(BUFFER, size))))
        self._digest = digest

    def __len__(self) -> int:
        return self._left

    def read(self, amount: int = -1) -> memoryview:
        view = self._buffer[: min(len(self._buffer), self._left)]
        if not view:
            return view
        got = self._readinto(view) or 0
        if not got:
            raise EffectError(f"the source ended {self._left} bytes short of the asset's size")
        self._left -= got
        block = view[:got]
        if self._digest is not None:
            self._digest.update(block)
        return block


def _readinto(raw: Any) -> Callable[[memoryview], int | None]:
    """Reads a download's body into the caller's buffer. urllib3's read(n) copies each block on
    its way (http.client's read(n) into a new bytearray, then out of it); a body sent without a
    Content-Encoding is read by http.client's readinto, which stops at its Content-Length."""
    readinto = getattr(getattr(raw, "_fp", None), "readinto", None)
    encoded = (raw.headers.get("Content-Encoding") or "identity").lower() != "identity"
    if not encoded and callable(readinto):
        return cast(Callable[[memoryview], int | None], readinto)

    def decoded(view: memoryview) -> int:
        block = raw.read(len(view), decode_content=True)
        view[: len(block)] = block
        return len(block)

    return decoded


# An upload of a file is sent in windows of the file mapped into memory (mmap): the hash and the
# socket read the page cache directly, without a read() copying each byte into a buffer first
# (that copy was a third of the CPU an upload took). At most _AHEAD windows wait to be hashed
# while the socket sends, so what is mapped stays small whatever the asset's size.
_WINDOW = 4 << 20
_AHEAD = 3


class _Block:
    __slots__ = ("index", "mapping", "view")

    def __init__(self, index: int, view: memoryview, mapping: Any = None) -> None:
        self.index = index
        self.view = view
        self.mapping = mapping  # the mmap behind view (None: a reused buffer)

    def release(self) -> None:
        self.view.release()
        if self.mapping is not None:
            with contextlib.suppress(BufferError):  # still referenced: the GC unmaps it
                self.mapping.close()


class _FileBody:
    """A file's bytes as an upload's body, hashed on a thread of its own while the socket sends
    them (hashlib and sendall both let go of the GIL for large blocks, so on two cores the
    hash no longer adds its time to the send's).

    http.client asks for each block with `read()` after sending the one before, so a block is
    released (unmapped, or its buffer reused) once it is sent and hashed. Where the file cannot
    be mapped it is read with readinto into a small ring of reused buffers instead. `close()`
    stops and joins the hashing thread whatever happened: no thread outlives the upload.
    """

    def __init__(self, fh: Any, size: int, digest: Any = None, *, label: str = "") -> None:
        self._fh = fh
        self._size = size
        self._sent = 0  # bytes handed out to be sent
        self._label = label
        self._digest = digest
        self._blocks: deque[_Block] = deque()
        self._handed = 0
        self._hashed = 0
        self._failed: BaseException | None = None
        self._stop = False
        self._ring: list[memoryview] | None = None
        self._cond = threading.Condition()
        self._todo: queue.SimpleQueue[_Block | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        if digest is not None and size:
            self._thread = threading.Thread(
                target=self._hash, name="rcflow:upload-digest", daemon=True
            )
            self._thread.start()

    def __len__(self) -> int:
        return self._size - self._sent

    def _hash(self) -> None:
        try:
            while (block := self._todo.get()) is not None:
                if not self._stop:
                    self._digest.update(block.view)
                with self._cond:
                    self._hashed += 1
                    self._cond.notify_all()
        except BaseException as exc:  # reported by the sending side at its next block
            with self._cond:
                self._failed = exc
                self._cond.notify_all()

    def read(self, amount: int = -1) -> memoryview:
        length = min(_WINDOW, self._size - self._sent)
        # GitHub finishes an asset with its last byte: the last window waits until every byte
        # is hashed, so a hash that fails stops the upload before GitHub keeps the asset.
        last = length > 0 and self._sent + length == self._size
        with self._cond:
            # Every block handed out before was sent: those hashed are done with.
            while self._blocks and (self._thread is None or self._blocks[0].index < self._hashed):
                self._blocks.popleft().release()
        self._wait_for_hash(0 if last else _AHEAD - 1)
        if length <= 0:
            return memoryview(b"")
        block = self._next(length)
        self._sent += len(block.view)
        self._handed += 1
        self._blocks.append(block)
        if self._thread is not None:
            self._todo.put(block)
            if last:
                self._wait_for_hash(0)
        return block.view

    def _wait_for_hash(self, behind: int) -> None:
        """Until at most `behind` windows handed out wait to be hashed; a failed hash raises."""
        with self._cond:
            while self._thread is not None and self._handed - self._hashed > behind:
                if self._failed is not None:
                    break
                self._cond.wait()
            if self._failed is not None:
                raise EffectError(
                    f"hashing {self._label} failed while uploading it: {self._failed}"
                ) from None

    def _next(self, length: int) -> _Block:
        """The next window of the file: mapped, or read into the ring's next buffer."""
        try:
            if self._ring is None:
                # A file cut shorter than it was would make its mapped pages fault (SIGBUS):
                # its size is checked before each window is mapped.
                if os.fstat(self._fh.fileno()).st_size < self._sent + length:
                    raise EffectError(f"{self._label} got shorter while it was uploaded")
                try:
                    mapping = mmap.mmap(
                        self._fh.fileno(), length, access=mmap.ACCESS_READ, offset=self._sent
                    )
                except (OSError, ValueError):  # a file system without mmap: read instead
                    self._ring = [memoryview(bytearray(_WINDOW)) for _ in range(_AHEAD + 1)]
                else:
                    return _Block(self._handed, memoryview(mapping), mapping)
            buffer = self._ring[self._handed % len(self._ring)][:length]
            got = 0
            while got < length:
                n = self._fh.readinto(buffer[got:])
                if not n:
                    raise EffectError(f"{self._label} got shorter while it was uploaded")
                got += n
            return _Block(self._handed, buffer)
        except OSError as exc:  # not a connection error: an upload's retry would not help
            raise EffectError(f"reading {self._label} failed: {exc.strerror or exc}") from None

    def finish(self) -> str | None:
        """The digest of the whole file, once every byte was sent and hashed."""
        self.close()
        if self._failed is not None:
            raise EffectError(f"hashing {self._label} failed while uploading it: {self._failed}")
        if self._sent != self._size:
            raise EffectError(f"{self._label}: {self._size - self._sent} bytes were not sent")
        return None if self._digest is None else str(self._digest.hexdigest())

    def close(self) -> None:
        if self._thread is not None:
            if self._sent != self._size:
                self._stop = True  # a failed upload: what is queued is not worth hashing
            self._todo.put(None)
            self._thread.join()
        while self._blocks:
            self._blocks.popleft().release()
