"""The GitHub test server itself, driven by PyGithub and by plain requests."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import github
import pytest
import requests
from github import Auth, Github, GithubException

from ghserver import GitHubServer


def gh(server: GitHubServer, **kwargs: object) -> Github:
    # PyGithub waits 0.25 s between requests and 1 s between writes unless told otherwise.
    return Github(
        base_url=server.base_url,
        auth=Auth.Token(server.token),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
        **kwargs,  # type: ignore[arg-type]
    )


def api(server: GitHubServer, method: str, path: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.token}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return requests.request(
        method, f"{server.base_url}{path}", headers=headers, timeout=10, **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository with one commit on main."""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)

    def git(*args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            ["git", "--git-dir", str(bare), *args],
            check=True,
            capture_output=True,
            text=True,
            input=stdin,
        )
        return out.stdout.strip()

    tree = git("mktree", stdin="")
    commit = git("commit-tree", tree, "-m", "initial")
    git("update-ref", "refs/heads/main", commit)
    return bare


def tag_sha(bare: Path, tag: str) -> str | None:
    out = subprocess.run(
        [
            "git",
            "--git-dir",
            str(bare),
            "rev-parse",
            "-q",
            "--verify",
            f"refs/tags/{tag}^{{commit}}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or None


# -- releases -------------------------------------------------------------------------------


def test_repository_and_permissions_follow_the_token(github_server: GitHubServer) -> None:
    repo = gh(github_server).get_repo("acme/app")
    assert repo.full_name == "acme/app"
    assert repo.default_branch == "main"
    assert repo.permissions.push and repo.permissions.pull and not repo.permissions.admin
    github_server.token_permissions = {"contents": "read", "metadata": "read"}
    repo = gh(github_server).get_repo("acme/app")
    assert not repo.permissions.push


def test_prerelease_is_created_and_found_by_tag(github_server: GitHubServer) -> None:
    repo = gh(github_server).get_repo("acme/app")
    rel = repo.create_git_release("v1.4.0-rc.1", "v1.4.0-rc.1", "notes", prerelease=True)
    assert rel.prerelease and not rel.draft
    assert rel.upload_url.startswith(f"{github_server.uploads_url}/repos/acme/app/releases/")
    found = repo.get_release("v1.4.0-rc.1")
    assert found.id == rel.id and found.body == "notes"
    assert github_server.tags["v1.4.0-rc.1"] == github_server.branches["main"]
    assert github_server.count("POST", r"/releases$") == 1


def test_existing_tag_name_is_refused_with_githubs_validation_error(
    github_server: GitHubServer,
) -> None:
    repo = gh(github_server).get_repo("acme/app")
    repo.create_git_release("v1.0.0", "v1.0.0", "")
    with pytest.raises(GithubException) as caught:
        repo.create_git_release("v1.0.0", "again", "")
    assert caught.value.status == 422
    assert caught.value.data["errors"] == [
        {"resource": "Release", "code": "already_exists", "field": "tag_name"}
    ]


def test_pagination_follows_link_headers(github_server: GitHubServer) -> None:
    for n in range(35):
        r = api(github_server, "POST", "/repos/acme/app/releases", json={"tag_name": f"v0.{n}.0"})
        assert r.status_code == 201
    first = api(github_server, "GET", "/repos/acme/app/releases", params={"per_page": 10})
    assert len(first.json()) == 10
    assert first.links["next"]["url"].endswith("per_page=10&page=2")
    assert first.links["last"]["url"].endswith("page=4")
    last = requests.get(
        first.links["last"]["url"],
        headers={"Authorization": f"token {github_server.token}"},
        timeout=10,
    )
    assert len(last.json()) == 5 and "next" not in last.links and "prev" in last.links
    tags = [r.tag_name for r in gh(github_server, per_page=10).get_repo("acme/app").get_releases()]
    assert len(tags) == 35 and tags[0] == "v0.34.0"  # newest first
    assert github_server.count("GET", r"/releases$") == 2 + 4  # 2 by requests, 4 pages


def test_draft_is_listed_but_not_found_by_tag_until_published(
    github_server: GitHubServer,
) -> None:
    repo = gh(github_server).get_repo("acme/app")
    draft = repo.create_git_release("v2.0.0", "v2.0.0", "", draft=True)
    assert "v2.0.0" not in github_server.tags  # a draft creates no tag
    assert [r.id for r in repo.get_releases()] == [draft.id]
    with pytest.raises(GithubException) as caught:
        repo.get_release("v2.0.0").body  # noqa: B018 — lazy object: the attribute fetches
    assert caught.value.status == 404
    published = draft.update_release("v2.0.0", "final notes", draft=False, make_latest="true")
    assert not published.draft and published.published_at is not None
    assert "v2.0.0" in github_server.tags
    assert repo.get_release("v2.0.0").id == draft.id
    assert repo.get_latest_release().id == draft.id


def test_latest_follows_make_latest_then_creation_date(github_server: GitHubServer) -> None:
    repo = gh(github_server).get_repo("acme/app")
    with pytest.raises(GithubException):
        repo.get_latest_release().tag_name  # noqa: B018
    v1 = repo.create_git_release("v1.0.0", "v1.0.0", "")
    assert repo.get_latest_release().id == v1.id
    repo.create_git_release("v1.1.0-rc.1", "rc", "", prerelease=True)  # never latest
    assert repo.get_latest_release().id == v1.id
    repo.create_git_release("v0.9.1", "backport", "", make_latest="false")
    assert repo.get_latest_release().id == v1.id
    v11 = repo.create_git_release("v1.1.0", "v1.1.0", "")  # make_latest defaults to true
    assert repo.get_latest_release().id == v11.id
    v11.delete_release()
    v0 = repo.get_release("v0.9.1")
    assert repo.get_latest_release().id == v0.id  # most recent non-prerelease by creation
    assert "v1.1.0" in github_server.tags  # deleting a release keeps its tag


def test_tags_are_read_from_and_created_in_the_bare_origin(
    make_github_server: Callable[..., GitHubServer], origin: Path
) -> None:
    server = make_github_server(git_dir=origin)
    repo = gh(server).get_repo("acme/app")
    repo.create_git_release("v3.0.0", "v3.0.0", "", draft=True)
    assert tag_sha(origin, "v3.0.0") is None
    rel = repo.create_git_release("v3.0.1", "v3.0.1", "")
    main = subprocess.run(
        ["git", "--git-dir", str(origin), "rev-parse", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert tag_sha(origin, "v3.0.1") == main
    rel.delete_release()
    assert tag_sha(origin, "v3.0.1") == main
    with pytest.raises(GithubException) as caught:
        repo.create_git_release("v3.0.2", "x", "", target_commitish="no-such-branch")
    assert caught.value.status == 422


def test_assets_upload_duplicate_and_download(github_server: GitHubServer) -> None:
    repo = gh(github_server).get_repo("acme/app")
    rel = repo.create_git_release("v1.0.0", "v1.0.0", "")
    data = b"wheel bytes \x00\x01"
    asset = rel.upload_asset_from_memory(
        io.BytesIO(data), len(data), "app-1.0.0.whl", content_type="application/zip"
    )
    assert asset.size == len(data) and asset.state == "uploaded"
    assert asset.digest.startswith("sha256:") and asset.content_type == "application/zip"
    with pytest.raises(GithubException) as caught:
        rel.upload_asset_from_memory(io.BytesIO(b"x"), 1, "app-1.0.0.whl")
    assert caught.value.status == 422
    assert caught.value.data["errors"][0]["code"] == "already_exists"
    assert [a.name for a in repo.get_release(rel.id).get_assets()] == ["app-1.0.0.whl"]

    response = api(
        github_server,
        "GET",
        f"/repos/acme/app/releases/assets/{asset.id}",
        headers={"Accept": "application/octet-stream"},
    )
    assert response.content == data
    assert [r.status_code for r in response.history] == [302]
    assert response.history[0].headers["Location"].startswith(f"{github_server.root}/api/")
    status, _headers, chunks = asset.download_asset()
    assert status == 200 and b"".join(chunks) == data

    asset.delete_asset()
    assert list(rel.get_assets()) == []


def test_a_large_upload_is_digested_as_it_arrives_and_served_whole(
    github_server: GitHubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ghserver import server as module

    monkeypatch.setattr(module, "_RECV_BLOCK", 1 << 20)  # several blocks, without a large body
    hashed = [0]
    real_sha256 = hashlib.sha256

    class Counting:  # each byte the server hashes, on whichever thread
        def __init__(self, *args: bytes) -> None:
            hashed[0] += sum(len(a) for a in args)
            self._real = real_sha256(*args)

        def update(self, block: bytes) -> None:
            hashed[0] += len(block)
            self._real.update(block)

        def hexdigest(self) -> str:
            return self._real.hexdigest()

    monkeypatch.setattr(module.hashlib, "sha256", Counting)
    rel = gh(github_server).get_repo("acme/app").create_git_release("v1.0.0", "v1.0.0", "")
    data = os.urandom(3 * (1 << 20) + 5)
    asset = rel.upload_asset_from_memory(io.BytesIO(data), len(data), "app.bin")
    (stored,) = github_server.release_by_tag("v1.0.0").assets  # type: ignore[union-attr]
    listed = api(github_server, "GET", f"/repos/acme/app/releases/{rel.id}/assets").json()
    assert listed[0]["digest"] == asset.digest
    monkeypatch.undo()
    assert hashed == [len(data)]  # once, as it arrived: not again for the listing

    assert isinstance(stored.data, module.Received) and len(stored.data.blocks) == 4
    assert stored.data == data and stored.data != data[:-1]
    assert asset.size == len(data)
    assert asset.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    response = api(
        github_server,
        "GET",
        f"/repos/acme/app/releases/assets/{asset.id}",
        headers={"Accept": "application/octet-stream"},
    )
    assert response.content == data


def test_upload_without_name_is_a_mismatch(github_server: GitHubServer) -> None:
    rel = gh(github_server).get_repo("acme/app").create_git_release("v1.0.0", "v1.0.0", "")
    url = rel.upload_url.split("{")[0]
    r = requests.post(
        url,
        data=b"x",
        headers={
            "Authorization": f"token {github_server.token}",
            "Content-Type": "application/octet-stream",
        },
        timeout=10,
    )
    assert r.status_code == 422
    assert any("name" in m and "upload-release-asset" in m for m in github_server.mismatches)
    github_server.mismatches.clear()


def test_immutable_release_refuses_asset_changes(github_server: GitHubServer) -> None:
    github_server.immutable_releases = True
    repo = gh(github_server).get_repo("acme/app")
    draft = repo.create_git_release("v1.0.0", "v1.0.0", "", draft=True)
    asset = draft.upload_asset_from_memory(io.BytesIO(b"a"), 1, "a.tgz")  # drafts are mutable
    published = draft.update_release("v1.0.0", "", draft=False)
    assert published.immutable
    with pytest.raises(GithubException) as caught:
        published.upload_asset_from_memory(io.BytesIO(b"b"), 1, "b.tgz")
    assert caught.value.status == 422
    with pytest.raises(GithubException):
        asset.delete_asset()
    assert [(r.method, r.reason) for r in github_server.refused] == [
        ("POST", "Cannot upload assets to an immutable release."),
        ("DELETE", "Cannot delete assets of an immutable release."),
    ]
    check = api(github_server, "GET", "/repos/acme/app/immutable-releases")
    assert check.json() == {"enabled": True, "enforced_by_owner": False}
    published.delete_release()  # deleting an immutable release is allowed; the tag stays
    assert "v1.0.0" in github_server.tags


# -- auth, faults, redirects ----------------------------------------------------------------


def test_bad_credentials(github_server: GitHubServer) -> None:
    r = requests.get(
        f"{github_server.base_url}/repos/acme/app",
        headers={"Authorization": "token nope"},
        timeout=10,
    )
    assert r.status_code == 401
    assert r.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    client = Github(base_url=github_server.base_url, auth=Auth.Token("wrong"), retry=None)
    with pytest.raises(github.BadCredentialsException):
        client.get_repo("acme/app")
    assert requests.get(f"{github_server.base_url}/rate_limit", timeout=10).status_code == 401


def test_missing_permission_is_403_with_the_accepted_permissions_header(
    github_server: GitHubServer,
) -> None:
    github_server.token_permissions = {"contents": "read", "issues": "read", "metadata": "read"}
    r = api(github_server, "POST", "/repos/acme/app/releases", json={"tag_name": "v1.0.0"})
    assert r.status_code == 403
    assert r.json()["message"] == "Resource not accessible by integration"
    assert r.headers["x-accepted-github-permissions"] == "contents=write"
    r = api(github_server, "POST", "/repos/acme/app/issues", json={"title": "t"})
    assert r.headers["x-accepted-github-permissions"] == "issues=write"


def test_secondary_rate_limit_then_success(github_server: GitHubServer) -> None:
    github_server.fail_secondary_rate_limit("POST", r"/releases$", retry_after=1)
    repo = gh(github_server).get_repo("acme/app")
    with pytest.raises(github.RateLimitExceededException) as caught:
        repo.create_git_release("v1.0.0", "v1.0.0", "")
    assert caught.value.status == 403
    assert caught.value.headers is not None and caught.value.headers["retry-after"] == "1"
    assert "secondary rate limit" in caught.value.data["message"]
    repo.create_git_release("v1.0.0", "v1.0.0", "")  # only `times` requests fail
    assert github_server.count("POST", r"/releases$") == 2


def test_primary_rate_limit_429(github_server: GitHubServer) -> None:
    github_server.fail_rate_limit("GET", r"/repos/acme/app$", reset_in=30)
    r = api(github_server, "GET", "/repos/acme/app")
    assert r.status_code == 429
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["x-ratelimit-reset"]) > int(datetime.now(UTC).timestamp())


def test_server_error_fault(github_server: GitHubServer) -> None:
    github_server.fail_server_error("GET", r"/releases/latest$", times=2)
    for _ in range(2):
        r = api(github_server, "GET", "/repos/acme/app/releases/latest")
        assert r.status_code == 502 and r.json() == {"message": "Server Error"}
    assert api(github_server, "GET", "/repos/acme/app/releases/latest").status_code == 404


def test_dropped_connection(github_server: GitHubServer) -> None:
    github_server.drop_connection("*", r"/repos/acme/app$")
    with pytest.raises(requests.ConnectionError):
        api(github_server, "GET", "/repos/acme/app")
    assert github_server.requests[-1].status == 0
    assert api(github_server, "GET", "/repos/acme/app").status_code == 200


def test_renamed_repository_is_reached_through_the_301(github_server: GitHubServer) -> None:
    client = gh(github_server)
    client.get_repo("acme/app").create_git_release("v1.0.0", "v1.0.0", "")
    github_server.rename("acme-corp", "application")
    r = api(github_server, "GET", "/repos/acme/app/releases", allow_redirects=False)
    assert r.status_code == 301
    assert r.headers["Location"] == (
        f"{github_server.base_url}/repositories/{github_server.repo_id}/releases"
    )
    repo = client.get_repo("acme/app")
    assert repo.full_name == "acme-corp/application"
    old = gh(github_server, lazy=True).get_repo("acme/app")
    assert [r.tag_name for r in old.get_releases()] == ["v1.0.0"]
    assert github_server.count("GET", r"^/api/v3/repositories/\d+/releases$") == 1
    assert api(github_server, "GET", "/repos/nobody/else").status_code == 404


def test_token_expiration_header(github_server: GitHubServer) -> None:
    assert (
        "github-authentication-token-expiration"
        not in api(github_server, "GET", "/rate_limit").headers
    )
    github_server.token_expires = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    r = api(github_server, "GET", "/rate_limit")
    assert r.headers["github-authentication-token-expiration"] == "2026-12-01 12:00:00 UTC"
    assert r.headers["x-github-api-version-selected"] == "2022-11-28"
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert gh(github_server).get_rate_limit().resources.core.limit == 5000


def test_unknown_operation_is_a_mismatch(github_server: GitHubServer) -> None:
    r = api(github_server, "GET", "/repos/acme/app/branches")
    assert r.status_code == 404
    assert github_server.mismatches == [
        "GET /repos/acme/app/branches: no operation in the spec subset"
    ]
    github_server.mismatches.clear()


def test_malformed_request_is_reported(github_server: GitHubServer) -> None:
    r = api(
        github_server, "POST", "/repos/acme/app/releases", json={"tag_name": "v1", "draft": "yes"}
    )
    assert r.status_code == 422
    assert len(github_server.mismatches) == 1
    line = github_server.mismatches[0]
    assert line.startswith("repos/create-release request POST /api/v3/repos/acme/app/releases:")
    assert "'yes' is not of type 'boolean'" in line
    github_server.mismatches.clear()
    assert github_server.releases == {}


def test_invalid_response_is_reported(github_server: GitHubServer) -> None:
    github_server.fail("GET", r"/releases/latest$", 200, body={"id": "not a release"})
    api(github_server, "GET", "/repos/acme/app/releases/latest")
    assert len(github_server.mismatches) == 1
    assert github_server.mismatches[0].startswith("repos/get-latest-release response 200")
    github_server.mismatches.clear()


def test_a_bench_can_turn_off_response_checks_but_requests_are_still_refused(
    github_server: GitHubServer,
) -> None:
    github_server.checks_responses = False
    github_server.fail("GET", r"/releases/latest$", 200, body={"id": "not a release"})
    api(github_server, "GET", "/repos/acme/app/releases/latest")
    assert github_server.mismatches == []
    r = api(
        github_server, "POST", "/repos/acme/app/releases", json={"tag_name": "v1", "draft": "yes"}
    )
    assert r.status_code == 422  # as GitHub answers: the request is checked whatever the bench
    assert len(github_server.mismatches) == 1
    github_server.mismatches.clear()


# -- issues, rulesets, identity -------------------------------------------------------------


def test_issues_create_update_comment_list(github_server: GitHubServer) -> None:
    repo = gh(github_server).get_repo("acme/app")
    issue = repo.create_issue("Release v1.0.0 failed", body="see log", labels=["release"])
    assert issue.number == 1 and [lb.name for lb in issue.labels] == ["release"]
    comment = issue.create_comment("retrying")
    assert comment.body == "retrying"
    issue.edit(state="closed")
    assert issue.state == "closed"
    open_issues = list(repo.get_issues(state="open"))
    closed = list(repo.get_issues(state="closed", labels=["release"]))
    assert open_issues == [] and [i.number for i in closed] == [1]
    assert closed[0].comments == 1


def test_rulesets_list_and_get(github_server: GitHubServer) -> None:
    rid = github_server.add_ruleset(
        "protect release tags",
        include=["refs/tags/v*"],
        rules=[{"type": "deletion"}, {"type": "update"}],
    )
    listed = api(github_server, "GET", "/repos/acme/app/rulesets").json()
    assert [(r["id"], r["name"]) for r in listed] == [(rid, "protect release tags")]
    one = api(github_server, "GET", f"/repos/acme/app/rulesets/{rid}").json()
    assert one["target"] == "tag"
    assert one["conditions"]["ref_name"]["include"] == ["refs/tags/v*"]
    assert [r["type"] for r in one["rules"]] == ["deletion", "update"]
    assert api(github_server, "GET", "/repos/acme/app/rulesets/999").status_code == 404


def test_authenticated_user(github_server: GitHubServer) -> None:
    assert gh(github_server).get_user().login == github_server.user_login
    assert github_server.env() == {
        "GITHUB_TOKEN": github_server.token,
        "RCFLOW_GITHUB_API_URL": github_server.base_url,
    }


# -- actions, checks, statuses (phase 2) ----------------------------------------------------


def test_workflow_dispatch_and_runs(github_server: GitHubServer) -> None:
    wf_id = github_server.add_workflow(".github/workflows/release.yml", "release")
    repo = gh(github_server).get_repo("acme/app")
    workflow = repo.get_workflow("release.yml")
    assert workflow.id == wf_id and workflow.path == ".github/workflows/release.yml"
    assert workflow.create_dispatch("main", {"version": "1.4.0"}, throw=True) is True
    details = workflow.create_dispatch("main", throw=True, return_run_details=True)
    assert not isinstance(details, bool)
    runs = list(workflow.get_runs(event="workflow_dispatch"))
    assert [r.id for r in runs] == [details.id, runs[1].id]
    assert runs[0].status == "queued" and runs[0].head_sha == github_server.branches["main"]
    assert github_server.runs[runs[1].id].inputs == {"version": "1.4.0"}
    github_server.set_run(details.id, status="completed", conclusion="success")
    run = repo.get_workflow_run(details.id)
    assert (run.status, run.conclusion) == ("completed", "success")
    assert repo.get_workflow_runs(status="success").totalCount == 1
    with pytest.raises(GithubException) as caught:
        workflow.create_dispatch("no-such-branch", throw=True)
    assert caught.value.status == 422
    github_server.token_permissions["actions"] = "read"
    r = api(
        github_server,
        "POST",
        f"/repos/acme/app/actions/workflows/{wf_id}/dispatches",
        json={"ref": "main"},
    )
    assert r.status_code == 403 and r.headers["x-accepted-github-permissions"] == "actions=write"


def test_check_runs_and_commit_statuses(github_server: GitHubServer) -> None:
    sha = github_server.branches["main"]
    github_server.add_check_run(sha, "tests")
    github_server.add_check_run(sha, "lint", status="in_progress", conclusion=None)
    github_server.add_status(sha, "ci/build", "pending")
    github_server.add_status(sha, "ci/build", "success")
    github_server.add_status(sha, "ci/docs", "success")
    commit = gh(github_server, lazy=True).get_repo("acme/app").get_commit(sha)
    checks = {c.name: (c.status, c.conclusion) for c in commit.get_check_runs()}
    assert checks == {"tests": ("completed", "success"), "lint": ("in_progress", None)}
    combined = commit.get_combined_status()
    assert combined.state == "success" and combined.total_count == 2
    statuses = api(github_server, "GET", f"/repos/acme/app/commits/{sha}/statuses").json()
    assert [(s["context"], s["state"]) for s in statuses] == [
        ("ci/docs", "success"),
        ("ci/build", "success"),
        ("ci/build", "pending"),
    ]
    github_server.add_status(sha, "ci/docs", "failure")
    assert commit.get_combined_status().state == "failure"


def test_dispatched_runs_follow_their_steps_and_carry_the_run_name(
    github_server: GitHubServer,
) -> None:
    wf_id = github_server.add_workflow(
        ".github/workflows/e2e.yml",
        "e2e",
        run_name="e2e ${{ inputs.tag }} [${{inputs.rcflow_run_id}}]",
        steps=[("in_progress", None), ("completed", "success")],
    )
    repo = gh(github_server).get_repo("acme/app")
    details = repo.get_workflow("e2e.yml").create_dispatch(
        "main", {"tag": "v1", "rcflow_run_id": "abc"}, throw=True, return_run_details=True
    )
    assert not isinstance(details, bool)
    seen = [repo.get_workflow_run(details.id) for _ in range(4)]
    assert [(r.status, r.conclusion) for r in seen] == [
        ("queued", None),
        ("in_progress", None),
        ("completed", "success"),
        ("completed", "success"),
    ]
    assert seen[0].display_title == "e2e v1 [abc]"
    assert [r.id for r in github_server.dispatched(wf_id)] == [details.id]


def test_dispatch_without_run_details_or_without_a_run(github_server: GitHubServer) -> None:
    github_server.add_workflow(".github/workflows/e2e.yml", "e2e")
    workflow = gh(github_server).get_repo("acme/app").get_workflow("e2e.yml")
    github_server.dispatch_run_details = False
    assert workflow.create_dispatch("main", throw=True, return_run_details=True) is True
    assert len(github_server.dispatched()) == 1
    github_server.dispatch_starts_runs = False
    assert workflow.create_dispatch("main", throw=True) is True
    assert len(github_server.dispatched()) == 1


def test_check_runs_and_statuses_move_on_with_each_read(github_server: GitHubServer) -> None:
    sha = github_server.branches["main"]
    github_server.add_check_run(
        sha, "build", status="queued", conclusion=None, steps=[("completed", "failure")]
    )
    github_server.add_status(sha, "ci/docs", "pending")
    github_server.schedule_statuses(sha, "ci/docs", ["success"])
    commit = gh(github_server, lazy=True).get_repo("acme/app").get_commit(sha)
    assert [c.status for c in commit.get_check_runs()] == ["queued"]
    assert [(c.status, c.conclusion) for c in commit.get_check_runs()] == [("completed", "failure")]
    assert commit.get_combined_status().state == "pending"
    assert commit.get_combined_status().state == "success"


def test_a_lost_answer_to_a_write_that_happened(github_server: GitHubServer) -> None:
    github_server.add_workflow(".github/workflows/e2e.yml", "e2e")
    github_server.drop_connection("POST", r"/dispatches$", handled=True)
    with pytest.raises(requests.ConnectionError):
        api(
            github_server,
            "POST",
            "/repos/acme/app/actions/workflows/e2e.yml/dispatches",
            json={"ref": "main"},
        )
    assert len(github_server.dispatched()) == 1


@pytest.mark.parametrize("feature", ["rulesets", "immutable-releases", "token-expiration"])
def test_an_older_ghes_lacks_each_feature_alone(github_server: GitHubServer, feature: str) -> None:
    github_server.token_expires = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    github_server.as_older_ghes(feature)
    rulesets = api(github_server, "GET", "/repos/acme/app/rulesets")
    immutable = api(github_server, "GET", "/repos/acme/app/immutable-releases")

    assert rulesets.headers["x-github-enterprise-version"] == "3.10.0"
    assert (rulesets.status_code, rulesets.json() if rulesets.status_code == 404 else []) == (
        (
            404,
            {
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/enterprise-server@3.10/rest",
                "status": "404",
            },
        )
        if feature == "rulesets"
        else (200, [])
    )
    # Off, the setting answers a bodiless 404; a server without the feature, its error body.
    assert immutable.status_code == 404
    assert bool(immutable.content) == (feature == "immutable-releases")
    expiry = "github-authentication-token-expiration" in rulesets.headers
    assert expiry == (feature != "token-expiration")
    assert github_server.mismatches == []


def test_an_older_ghes_names_only_features_it_knows(github_server: GitHubServer) -> None:
    with pytest.raises(ValueError, match="no such feature"):
        github_server.as_older_ghes("packages")


# -- deployments -----------------------------------------------------------------------------


def test_deployments_and_their_statuses(github_server: GitHubServer) -> None:
    sha = github_server.branches["main"]
    repo = gh(github_server).get_repo("acme/app")
    first = repo.create_deployment("main", environment="staging", required_contexts=[])
    assert (first.sha, first.environment, first.ref) == (sha, "staging", "main")
    first.create_status("in_progress")
    first.create_status("success", target_url="https://ci.example/1")
    second = repo.create_deployment(sha, environment="staging", required_contexts=[])
    repo.create_deployment(sha, environment="production", required_contexts=[])
    second.create_status("success")
    # Newest first, filtered by sha and environment.
    listed = list(repo.get_deployments(sha=sha, environment="staging"))
    assert [d.id for d in listed] == [second.id, first.id]
    assert list(repo.get_deployments(sha="f" * 40)) == []
    # A success makes the environment's previous successful deployment inactive.
    assert [s.state for s in repo.get_deployment(first.id).get_statuses()] == [
        "inactive",
        "success",
        "in_progress",
    ]
    assert next(iter(first.get_statuses())).id > 0
    assert [s.state for s in second.get_statuses()] == ["success"]
    missing = api(github_server, "GET", "/repos/acme/app/deployments/999999/statuses")
    assert missing.status_code == 404
    github_server.token_permissions["deployments"] = "none"
    r = api(github_server, "GET", "/repos/acme/app/deployments")
    assert r.status_code == 403
    assert r.headers["x-accepted-github-permissions"] == "deployments=read"


def test_deployment_statuses_move_on_with_each_read(github_server: GitHubServer) -> None:
    sha = github_server.branches["main"]
    ident = github_server.add_deployment(
        sha, "staging", states=["queued"], steps=["in_progress", "success"]
    )
    deployment = gh(github_server).get_repo("acme/app").get_deployment(ident)
    seen = [next(iter(deployment.get_statuses())).state for _ in range(4)]
    assert seen == ["queued", "in_progress", "success", "success"]


@pytest.mark.parametrize("size", [3000, 3 << 20])  # a small body, and one received in blocks
def test_an_upload_cut_off_midway_leaves_an_unfinished_asset_that_blocks_its_name(
    github_server: GitHubServer, size: int
) -> None:
    import socket
    from urllib.parse import urlsplit

    rel = gh(github_server).get_repo("acme/app").create_git_release("v1.0.0", "v1.0.0", "")
    url = urlsplit(f"{github_server.uploads_url}/repos/acme/app/releases/{rel.id}/assets")
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (
            f"POST {url.path}?name=app.bin HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Bearer {github_server.token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
        )
        sock.sendall(head.encode() + os.urandom(size // 2))
    github_server.wait_for_cut_bodies(1)

    listed = api(github_server, "GET", f"/repos/acme/app/releases/{rel.id}/assets").json()
    assert [(a["name"], a["state"], a["digest"]) for a in listed] == [("app.bin", "open", None)]
    data = os.urandom(1000)
    with pytest.raises(GithubException) as refused:
        rel.upload_asset_from_memory(io.BytesIO(data), len(data), "app.bin")
    assert refused.value.status == 422
    assert api(github_server, "DELETE", f"/repos/acme/app/releases/assets/{listed[0]['id']}").ok
    asset = rel.upload_asset_from_memory(io.BytesIO(data), len(data), "app.bin")
    assert asset.state == "uploaded"
    assert asset.digest == "sha256:" + hashlib.sha256(data).hexdigest()
