"""The GitHub forge adapter against the GitHub test server (held to GitHub's OpenAPI description).

Every request below is validated by the server; a mismatch fails the test at teardown.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ghserver import GitHubServer

from rcflow.adapters.github import GitHubError, GitHubForge, github_repo, token_from_env, web_hosts
from rcflow.errors import ConflictError, EffectError
from rcflow.ports.forge import RETRACTED_MARKER


def forge_for(server: GitHubServer, token: str | None = None, **kw: Any) -> GitHubForge:
    forge = GitHubForge(
        f"{server.owner}/{server.repo}",
        server.token if token is None else token,
        api_url=server.base_url,
        **kw,
    )
    forge.sleep = lambda seconds: None  # the waits are recorded in forge.waits instead
    return forge


def payload(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture
def server(github_server: GitHubServer) -> GitHubServer:
    github_server.tags = {"v1.3.0": "a" * 40, "v1.4.0-rc.1": "b" * 40, "v1.4.0": "b" * 40}
    return github_server


# -- reading ---------------------------------------------------------------------------------


def test_releases_with_drafts_latest_and_asset_digests(
    server: GitHubServer, tmp_path: Path
) -> None:
    forge = forge_for(server)
    assert forge.releases() == {}
    forge.create_release("v1.3.0", "1.3.0", "old", prerelease=False, draft=True)
    forge.publish_release("v1.3.0", latest=True)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "rc notes", prerelease=True, draft=True)
    data = b"\x00\x01binary\xff" * 100
    forge.upload_asset("v1.4.0-rc.1", payload(tmp_path, "app.tgz", data), "app-1.4.0.tgz")

    releases = forge.releases()
    assert sorted(releases) == ["v1.3.0", "v1.4.0-rc.1"]
    old, rc = releases["v1.3.0"], releases["v1.4.0-rc.1"]
    assert (old.draft, old.prerelease, old.latest, old.notes) == (False, False, True, "old")
    assert (rc.draft, rc.prerelease, rc.latest, rc.title) == (True, True, False, "1.4.0-rc.1")
    asset = rc.asset("app-1.4.0.tgz")
    assert asset is not None
    assert (asset.size, asset.sha256) == (len(data), hashlib.sha256(data).hexdigest())

    forge.publish_release("v1.4.0-rc.1", latest=False)
    releases = forge.releases()
    assert not releases["v1.4.0-rc.1"].draft and not releases["v1.4.0-rc.1"].latest
    assert releases["v1.3.0"].latest  # a prerelease never takes latest

    out = tmp_path / "downloaded"
    forge.download_asset("v1.4.0-rc.1", "app-1.4.0.tgz", out)
    assert out.read_bytes() == data


def test_many_releases_are_paged_through(server: GitHubServer) -> None:
    for n in range(1, 106):
        server.add_release(f"v0.{n}.0")
    assert len(forge_for(server).releases()) == 105
    assert server.count("GET", r"/releases$") >= 2  # per_page 100: a second page


def test_repo_facts_name_expiry_and_push(server: GitHubServer) -> None:
    server.token_expires = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    facts = forge_for(server).repo_facts()
    assert facts.full_name == "acme/app"
    assert facts.can_push
    assert facts.token_expires is not None and facts.token_expires.startswith("2026-12-01 12:00")


def test_a_renamed_repository_is_followed_and_its_new_name_reported(server: GitHubServer) -> None:
    forge_for(server).create_release("v1.3.0", "1.3.0", "", prerelease=False)
    server.rename("new-org", "app")
    forge = GitHubForge("acme/app", server.token, api_url=server.base_url)  # the old name
    assert forge.repo_facts().full_name == "new-org/app"
    assert list(forge.releases()) == ["v1.3.0"]


# -- retraction and latest -------------------------------------------------------------------


def test_retract_marks_prerelease_not_latest_and_previous_becomes_latest(
    server: GitHubServer,
) -> None:
    forge = forge_for(server)
    for tag in ("v1.3.0", "v1.4.0"):
        forge.create_release(tag, tag[1:], f"notes {tag}", prerelease=False, draft=True)
        forge.publish_release(tag, latest=True)
    assert forge.releases()["v1.4.0"].latest

    forge.retract_release("v1.4.0", "Retracted: broken wheel")
    forge.retract_release("v1.4.0", "Retracted: again")  # one note only
    forge.set_latest("v1.3.0")

    releases = forge.releases()
    final = releases["v1.4.0"]
    assert final.retracted and final.prerelease and not final.latest
    assert (
        final.notes
        == f"{RETRACTED_MARKER}\n> [!WARNING]\n> Retracted: broken wheel\n\nnotes v1.4.0"
    )
    assert releases["v1.3.0"].latest


def test_delete_is_idempotent(server: GitHubServer) -> None:
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True)
    forge.delete_release("v1.4.0-rc.1")
    forge.delete_release("v1.4.0-rc.1")
    assert forge.releases() == {}
    assert server.tag_commit("v1.4.0-rc.1") == "b" * 40  # deleting a release keeps its tag


# -- resilience ------------------------------------------------------------------------------


def test_502s_are_retried_with_growing_jittered_waits(server: GitHubServer) -> None:
    forge = forge_for(server)
    server.fail_server_error("GET", r"/releases$", times=3)
    assert forge.releases() == {}
    assert len(forge.waits) == 3
    # 1 s, 2 s, 4 s, each within ±50 %
    for wait, base in zip(forge.waits, (1, 2, 4), strict=True):
        assert 0.5 * base <= wait <= 1.5 * base


def test_secondary_rate_limit_honours_retry_after(server: GitHubServer) -> None:
    forge = forge_for(server)
    server.fail_secondary_rate_limit("POST", r"/releases$", retry_after=7)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    assert forge.waits == [7.0]
    assert len(forge.releases()) == 1


def test_primary_rate_limit_waits_until_reset_or_gives_up(server: GitHubServer) -> None:
    forge = forge_for(server)
    server.fail_rate_limit("GET", r"/releases$", reset_in=3)
    forge.releases()
    assert len(forge.waits) == 1 and 2.0 <= forge.waits[0] <= 5.0

    server.fail_rate_limit("GET", r"/releases$", reset_in=3600)
    with pytest.raises(GitHubError, match=r"rate limit stops listing releases for \d+s"):
        forge.releases()


def test_a_dropped_connection_is_retried_and_makes_one_release(server: GitHubServer) -> None:
    forge = forge_for(server)
    server.drop_connection("POST", r"/releases$")
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    assert len(forge.releases()) == 1
    assert server.count("POST", r"/releases$") == 2


def test_giving_up_after_the_attempts(server: GitHubServer) -> None:
    forge = forge_for(server, attempts=3)
    server.fail_server_error("GET", r"/releases$", times=5)
    with pytest.raises(GitHubError, match=r"GitHub failed while listing releases \(502 Server"):
        forge.releases()
    assert len(forge.waits) == 2


# -- errors that will not go away ------------------------------------------------------------


def test_bad_token_is_one_line_without_the_token(server: GitHubServer) -> None:
    forge = forge_for(server, token="ghp_wrongwrongwrong")
    with pytest.raises(GitHubError) as info:
        forge.releases()
    message = str(info.value.message)
    assert message == (
        "GitHub refused the token while listing releases (401 Bad credentials): "
        "it is wrong, revoked or expired"
    )
    assert "ghp_wrong" not in message and "ghp_wrong" not in str(info.value.hint)
    assert forge.waits == []  # a 401 is not retried


def test_no_token(server: GitHubServer) -> None:
    with pytest.raises(GitHubError, match="no GitHub token: set GITHUB_TOKEN or GH_TOKEN"):
        GitHubForge("acme/app", None, api_url=server.base_url).releases()


def test_missing_permission_names_it(server: GitHubServer) -> None:
    server.token_permissions["contents"] = "read"
    with pytest.raises(GitHubError) as info:
        forge_for(server).create_release("v1.4.0-rc.1", "x", "", prerelease=True)
    assert info.value.message == (
        "GitHub denied creating the release v1.4.0-rc.1 "
        "(403 Resource not accessible by integration): the token needs contents: write"
    )


def test_unknown_repository(server: GitHubServer) -> None:
    forge = GitHubForge("acme/nope", server.token, api_url=server.base_url)
    with pytest.raises(GitHubError, match=r"GitHub has no acme/nope, or the token cannot see it"):
        forge.releases()


def test_duplicate_asset_name_is_a_conflict(server: GitHubServer, tmp_path: Path) -> None:
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "x", "", prerelease=True, draft=True)
    forge.upload_asset("v1.4.0-rc.1", payload(tmp_path, "a", b"one"), "app.tgz")
    with pytest.raises(ConflictError, match="already"):
        forge.upload_asset("v1.4.0-rc.1", payload(tmp_path, "b", b"two"), "app.tgz")


def test_an_immutable_release_refuses_new_assets(server: GitHubServer, tmp_path: Path) -> None:
    server.immutable_releases = True
    forge = forge_for(server)
    forge.create_release("v1.4.0", "1.4.0", "", prerelease=False, draft=True)
    forge.upload_asset("v1.4.0", payload(tmp_path, "a", b"one"), "app.tgz")
    forge.publish_release("v1.4.0", latest=True)
    assert server.release_by_tag("v1.4.0").immutable  # type: ignore[union-attr]
    with pytest.raises(GitHubError, match="422"):
        forge.upload_asset("v1.4.0", payload(tmp_path, "b", b"two"), "late.tgz")
    assert len(server.refused) == 1


# -- configuration helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/app.git", "acme/app"),
        ("https://x-access-token:abc@github.com/acme/app", "acme/app"),
        ("git@github.com:acme/app.git", "acme/app"),
        ("ssh://git@github.com/acme/app.git", "acme/app"),
        ("https://gitlab.com/acme/app.git", None),
        ("/srv/git/app.git", None),
        ("git@ghe.example.com:acme/app.git", None),
    ],
)
def test_github_repo_from_remote_url(url: str, expected: str | None) -> None:
    assert github_repo(url) == expected


def test_enterprise_hosts() -> None:
    hosts = web_hosts("https://ghe.example.com/api/v3")
    assert github_repo("git@ghe.example.com:acme/app.git", hosts) == "acme/app"
    assert github_repo("https://github.com/acme/app", hosts) is None


def test_token_from_env() -> None:
    assert token_from_env({"GH_TOKEN": "b"}) == "b"
    assert token_from_env({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}) == "a"
    assert token_from_env({"GITHUB_TOKEN": ""}) is None


# -- carrying an asset onto another release --------------------------------------------------


def rc_with_asset(server: GitHubServer, tmp_path: Path, data: bytes) -> GitHubForge:
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    forge.upload_asset("v1.4.0-rc.1", payload(tmp_path, "app.tgz", data), "app.tgz")
    forge.publish_release("v1.4.0-rc.1", latest=False)
    forge.create_release("v1.4.0", "1.4.0", "", prerelease=False, draft=True)
    return forge


def no_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    def refuse(*_a: Any, **_kw: Any) -> Any:
        raise AssertionError("the bytes went through a file")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", refuse)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)


def test_copy_asset_streams_the_download_into_the_upload(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = bytes(range(256)) * 9000  # more than one block
    digest = hashlib.sha256(data).hexdigest()
    forge = rc_with_asset(server, tmp_path, data)
    no_disk(monkeypatch)

    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.tgz", digest) == digest

    (final,) = server.release_by_tag("v1.4.0").assets  # type: ignore[union-attr]
    assert (final.name, final.data) == ("app.tgz", data)
    assert forge.releases()["v1.4.0"].asset("app.tgz").sha256 == digest  # type: ignore[union-attr]


def test_an_upload_github_stored_as_other_bytes_is_removed(
    server: GitHubServer, tmp_path: Path
) -> None:
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    path = payload(tmp_path, "app.tgz", b"what was built")

    with pytest.raises(EffectError, match=r"GitHub stored other bytes for app\.tgz on v1\.4\.0"):
        forge.upload_asset("v1.4.0-rc.1", path, "app.tgz", sha256="0" * 64)  # not its bytes

    assert server.release_by_tag("v1.4.0-rc.1").assets == []  # type: ignore[union-attr]
    forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
    assert [a.name for a in forge.releases()["v1.4.0-rc.1"].assets] == ["app.tgz"]


def test_copy_asset_checks_what_github_stored_not_a_second_hash_of_the_stream(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib as module

    data = b"the validated bytes" * 1000
    digest = module.sha256(data).hexdigest()
    forge = rc_with_asset(server, tmp_path, data)
    hashed: list[int] = []
    real = module.sha256

    def counting(*args: Any, **kw: Any) -> Any:
        hashed.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(module, "sha256", counting)
    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.tgz", digest) == digest
    monkeypatch.undo()
    # The server's own digest of the upload (as GitHub's) is the one hash of the bytes.
    assert len(hashed) == 1
    (final,) = server.release_by_tag("v1.4.0").assets  # type: ignore[union-attr]
    assert final.data == data


def test_copy_asset_whose_upload_answer_has_no_digest_reads_it_from_the_listing(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from github.GitRelease import GitRelease

    data = b"validated"
    forge = rc_with_asset(server, tmp_path, data)
    real = GitRelease.upload_asset_from_memory

    def without_digest(self: Any, *args: Any, **kw: Any) -> Any:
        server.sends_asset_digests = False
        try:
            return real(self, *args, **kw)
        finally:
            server.sends_asset_digests = True

    monkeypatch.setattr(GitRelease, "upload_asset_from_memory", without_digest)
    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.tgz", "0" * 64) != "0" * 64
    assert server.release_by_tag("v1.4.0").assets == []  # type: ignore[union-attr]
    digest = hashlib.sha256(data).hexdigest()
    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.tgz", digest) == digest
    assert forge.releases()["v1.4.0"].asset("app.tgz").sha256 == digest  # type: ignore[union-attr]


def test_copy_asset_deletes_an_upload_whose_bytes_are_not_the_digest_asked_for(
    server: GitHubServer, tmp_path: Path
) -> None:
    data = b"replaced after validation"
    forge = rc_with_asset(server, tmp_path, data)

    actual = forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.tgz", "0" * 64)

    assert actual == hashlib.sha256(data).hexdigest()
    assert server.release_by_tag("v1.4.0").assets == []  # type: ignore[union-attr]
    assert forge.releases()["v1.4.0"].assets == ()


def test_without_digests_copy_asset_checks_the_bytes_before_uploading(
    server: GitHubServer, tmp_path: Path
) -> None:
    data = b"validated bytes"
    forge = rc_with_asset(server, tmp_path, data)
    server.sends_asset_digests = False
    posts = len(server.requests)

    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.tgz", "0" * 64) != "0" * 64
    assert not any(r.method in ("POST", "DELETE") for r in server.requests[posts:])
    assert server.release_by_tag("v1.4.0").assets == []  # type: ignore[union-attr]

    digest = hashlib.sha256(data).hexdigest()
    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.tgz", digest) == digest
    assert server.release_by_tag("v1.4.0").assets[0].data == data  # type: ignore[union-attr]


# -- an upload hashed as it is sent ----------------------------------------------------------


def test_an_upload_without_a_digest_is_hashed_as_it_is_sent(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcflow.adapters import github

    data = bytes(range(256)) * 9000  # more than one block
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    path = payload(tmp_path, "app.tgz", data)

    def refuse(_path: Path) -> str:
        raise AssertionError("the file was read a second time to hash it")

    monkeypatch.setattr(github, "sha256_file", refuse)
    assert forge.upload_asset("v1.4.0-rc.1", path, "app.tgz") == hashlib.sha256(data).hexdigest()
    assert server.release_by_tag("v1.4.0-rc.1").assets[0].data == data  # type: ignore[union-attr]


def _counting_sha256(monkeypatch: pytest.MonkeyPatch, hashed: list[int]) -> None:
    """hashlib.sha256, counting the bytes rcflow hashes (the test server hashes too, on threads
    of its own)."""
    import threading

    real_sha256 = hashlib.sha256
    mine = threading.current_thread()

    def ours() -> bool:
        current = threading.current_thread()
        return current is mine or current.name.startswith("rcflow:")

    class Counting:
        def __init__(self, *args: bytes) -> None:
            if ours():
                hashed[0] += sum(len(a) for a in args)
            self._real = real_sha256(*args)

        def update(self, view: Any) -> None:
            if ours():
                hashed[0] += len(view)
            self._real.update(view)

        def hexdigest(self) -> str:
            return self._real.hexdigest()

    monkeypatch.setattr(hashlib, "sha256", Counting)


def _left_unfinished(server: GitHubServer, forge: GitHubForge) -> None:
    """The upload was cut off midway: GitHub keeps an unfinished asset, never reported as one."""
    server.wait_for_cut_bodies(1)
    release = server.release_by_tag("v1.4.0-rc.1")
    assert release is not None and [a.state for a in release.assets] == ["open"]
    assert forge.releases()["v1.4.0-rc.1"].assets == ()


def _upload_threads() -> list[Any]:
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("rcflow:")]


def test_an_upload_maps_each_byte_once_and_hashes_it_once(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pass over the file: each byte mapped once (windows that tile the file, none read into
    new memory), hashed once on the way, nothing read or hashed again to check it."""
    import mmap

    from rcflow.adapters import github

    monkeypatch.setattr(github, "_WINDOW", 1 << 20)
    data = os.urandom(3 * (1 << 20) + 7)
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    path = payload(tmp_path, "app.tgz", data)
    windows: list[tuple[int, int]] = []
    real_mmap, real_open = mmap.mmap, Path.open

    def mapping(fd: int, length: int, **kw: Any) -> Any:
        windows.append((kw.get("offset", 0), length))
        return real_mmap(fd, length, **kw)

    class Watched:  # the opened file: never read() or readinto() when it can be mapped
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def fileno(self) -> int:
            return int(self._fh.fileno())

        def read(self, *args: Any) -> bytes:
            raise AssertionError("read into new memory")

        readinto = read

        def __enter__(self) -> Any:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()

    def opening(self: Path, *args: Any, **kw: Any) -> Any:
        fh = real_open(self, *args, **kw)
        return Watched(fh) if self == path else fh

    hashed = [0]
    _counting_sha256(monkeypatch, hashed)
    monkeypatch.setattr(github.mmap, "mmap", mapping)
    monkeypatch.setattr(Path, "open", opening)

    digest = forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")

    monkeypatch.undo()
    assert digest == hashlib.sha256(data).hexdigest()
    mib = 1 << 20
    assert windows == [(0, mib), (mib, mib), (2 * mib, mib), (3 * mib, 7)]
    assert hashed == [len(data)]
    assert server.release_by_tag("v1.4.0-rc.1").assets[0].data == data  # type: ignore[union-attr]
    assert _upload_threads() == []


def test_a_file_that_cannot_be_mapped_is_read_once_into_a_few_reused_buffers(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from rcflow.adapters import github

    monkeypatch.setattr(github, "_WINDOW", 1 << 20)
    data = os.urandom(9 * (1 << 20) + 5)
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    path = payload(tmp_path, "app.tgz", data)
    real_open = Path.open
    read: list[int] = []
    buffers: set[int] = set()

    def unmappable(fd: int, length: int, **kw: Any) -> Any:
        raise OSError(19, "No such device")

    class Watched:
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def fileno(self) -> int:
            return int(self._fh.fileno())

        def readinto(self, view: memoryview) -> int:
            buffers.add(id(view.obj))
            got: int = self._fh.readinto(view)
            read.append(got)
            return got

        def __enter__(self) -> Any:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()

    def opening(self: Path, *args: Any, **kw: Any) -> Any:
        fh = real_open(self, *args, **kw)
        return Watched(fh) if self == path else fh

    hashed = [0]
    _counting_sha256(monkeypatch, hashed)
    monkeypatch.setattr(github.mmap, "mmap", unmappable)
    monkeypatch.setattr(Path, "open", opening)

    digest = forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")

    monkeypatch.undo()
    assert digest == hashlib.sha256(data).hexdigest()
    assert sum(read) == len(data) and len(buffers) <= github._AHEAD + 1
    assert hashed == [len(data)]
    assert server.release_by_tag("v1.4.0-rc.1").assets[0].data == data  # type: ignore[union-attr]
    assert _upload_threads() == []


def _failing_block(monkeypatch: pytest.MonkeyPatch, at: int, error: BaseException) -> None:
    """The upload's body raises error when asked for its block number `at` (from 0)."""
    from rcflow.adapters import github

    real = github._FileBody.read
    asked = [0]

    def read(self: Any, amount: int = -1) -> memoryview:
        asked[0] += 1
        if asked[0] == at + 1:
            raise error
        return real(self, amount)

    monkeypatch.setattr(github._FileBody, "read", read)


def _four_window_upload(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[GitHubForge, Path, bytes]:
    from rcflow.adapters import github

    monkeypatch.setattr(github, "_WINDOW", 1 << 20)
    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    data = os.urandom(4 << 20)
    return forge, payload(tmp_path, "app.tgz", data), data


def test_a_file_cut_short_while_it_is_uploaded_fails_the_upload_and_leaves_no_asset(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcflow.adapters import github

    forge, path, data = _four_window_upload(server, tmp_path, monkeypatch)
    real = github._FileBody.read

    def read(self: Any, amount: int = -1) -> memoryview:
        block = real(self, amount)
        if len(self) == len(data) - (2 << 20):  # after the second window: the file shrinks
            # to what was mapped so far (cutting bytes already mapped would fault: SIGBUS)
            os.truncate(path, 2 << 20)
        return block

    monkeypatch.setattr(github._FileBody, "read", read)
    with pytest.raises(EffectError, match=r"app\.tgz got shorter while it was uploaded"):
        forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
    assert _upload_threads() == []
    assert forge.waits == []  # not retried: a file does not grow back
    _left_unfinished(server, forge)


def test_a_read_error_midway_fails_the_upload_once_and_leaves_no_asset(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcflow.adapters import github

    forge, path, _ = _four_window_upload(server, tmp_path, monkeypatch)
    real = github._FileBody._next
    calls = [0]

    def failing(self: Any, length: int) -> Any:
        calls[0] += 1
        if calls[0] == 3:
            raise EffectError("reading app.tgz failed: Input/output error")
        return real(self, length)

    monkeypatch.setattr(github._FileBody, "_next", failing)
    with pytest.raises(EffectError, match=r"reading app\.tgz failed: Input/output error"):
        forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
    assert _upload_threads() == [] and forge.waits == []
    _left_unfinished(server, forge)


@pytest.mark.parametrize("failing", [2, 4], ids=["second-window", "last-window"])
def test_a_hash_that_fails_midway_fails_the_upload_and_leaves_no_asset(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    """GitHub keeps an asset once its last byte arrives: the last window waits for the hash."""
    import threading

    forge, path, _ = _four_window_upload(server, tmp_path, monkeypatch)
    real_sha256 = hashlib.sha256
    mine = threading.current_thread()

    class Broken:  # breaks rcflow's hash only: the test server, in this process, hashes too
        def __init__(self, *args: bytes) -> None:
            current = threading.current_thread()
            self._ours = current is mine or current.name.startswith("rcflow:")
            self._real, self._n = real_sha256(*args), 0

        def update(self, view: Any) -> None:
            self._n += 1
            if self._ours and self._n == failing:
                raise MemoryError("no memory for the hash")
            self._real.update(view)

        def hexdigest(self) -> str:
            return self._real.hexdigest()

    monkeypatch.setattr(hashlib, "sha256", Broken)
    with pytest.raises(EffectError, match=r"hashing app\.tgz failed while uploading it"):
        forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
    monkeypatch.undo()
    assert _upload_threads() == []
    _left_unfinished(server, forge)


def test_a_connection_lost_midway_is_retried_and_the_asset_uploaded_whole(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import http.client

    forge, path, data = _four_window_upload(server, tmp_path, monkeypatch)
    real_send = http.client.HTTPConnection.send
    sent = [0]

    def send(self: Any, block: Any) -> None:
        if len(block) == 1 << 20:
            sent[0] += 1
            if sent[0] == 2:
                self.sock.close()
                server.wait_for_cut_bodies(1)  # the retry then finds the unfinished asset
                raise BrokenPipeError(32, "Broken pipe")
        real_send(self, block)

    monkeypatch.setattr(http.client.HTTPConnection, "send", send)
    assert forge.upload_asset("v1.4.0-rc.1", path, "app.tgz") == hashlib.sha256(data).hexdigest()
    assert len(forge.waits) == 1 and _upload_threads() == []
    (asset,) = server.release_by_tag("v1.4.0-rc.1").assets  # type: ignore[union-attr]
    assert asset.data == data and asset.state == "uploaded"


def test_a_connection_lost_for_good_fails_the_upload_with_no_thread_left(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import http.client

    forge, path, _ = _four_window_upload(server, tmp_path, monkeypatch)
    forge.attempts = 2
    real_send = http.client.HTTPConnection.send
    cuts = [0]

    def send(self: Any, block: Any) -> None:
        if len(block) == 1 << 20:
            self.sock.close()
            cuts[0] += 1
            server.wait_for_cut_bodies(cuts[0])  # what the next attempt finds, settled
            raise BrokenPipeError(32, "Broken pipe")
        real_send(self, block)

    monkeypatch.setattr(http.client.HTTPConnection, "send", send)
    with pytest.raises(GitHubError, match=r"GitHub did not answer while uploading app\.tgz"):
        forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
    assert _upload_threads() == [] and cuts == [2]
    _left_unfinished(server, forge)


@pytest.mark.parametrize(("status", "error"), [(500, None), (422, GitHubError)])
def test_a_server_error_after_the_body_is_retried_or_reported(
    server: GitHubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    error: type[Exception] | None,
) -> None:
    forge, path, data = _four_window_upload(server, tmp_path, monkeypatch)
    server.fail("POST", r"/releases/\d+/assets", status)
    if error is None:
        digest = forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
        assert digest == hashlib.sha256(data).hexdigest() and len(forge.waits) == 1
        (asset,) = server.release_by_tag("v1.4.0-rc.1").assets  # type: ignore[union-attr]
        assert asset.data == data
    else:
        with pytest.raises(error, match=r"GitHub rejected uploading app\.tgz to v1\.4\.0-rc\.1"):
            forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
        assert server.release_by_tag("v1.4.0-rc.1").assets == []  # type: ignore[union-attr]
    assert _upload_threads() == []


def test_an_upload_interrupted_midway_leaves_no_thread_and_the_next_run_uploads_it(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge, path, data = _four_window_upload(server, tmp_path, monkeypatch)
    _failing_block(monkeypatch, 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
    assert _upload_threads() == []
    _left_unfinished(server, forge)
    monkeypatch.undo()

    again = forge_for(server)  # the next run: a new process
    assert again.upload_asset("v1.4.0-rc.1", path, "app.tgz") == hashlib.sha256(data).hexdigest()
    (asset,) = server.release_by_tag("v1.4.0-rc.1").assets  # type: ignore[union-attr]
    assert asset.data == data


def test_an_upload_hashed_on_its_way_that_github_stored_otherwise_is_removed(
    server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from ghserver import server as handlers

    forge = forge_for(server)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    path = payload(tmp_path, "app.tgz", b"what was built")
    real = GitHubServer.h_upload_release_asset

    def damaged(self: GitHubServer, call: Any) -> Any:  # bytes changed on the way
        return real(self, dataclasses.replace(call, raw=b"what was stored", raw_sha256=None))

    monkeypatch.setitem(handlers._HANDLERS, "repos/upload-release-asset", damaged)
    with pytest.raises(EffectError, match=r"GitHub stored other bytes for app\.tgz on v1\.4\.0"):
        forge.upload_asset("v1.4.0-rc.1", path, "app.tgz")
    assert server.release_by_tag("v1.4.0-rc.1").assets == []  # type: ignore[union-attr]
