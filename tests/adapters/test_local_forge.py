"""The local forge: release records and asset bytes on origin's `refs/rcflow/forge`.

Every clone reads the same ref; every write is a fast-forward push (compare-and-swap).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from rcflow.adapters.local_forge import LocalForge
from rcflow.errors import BlockedError, ConflictError, EffectError
from rcflow.ports.forge import GIT_ASSET_LIMIT, RETRACTED_MARKER, git_asset_sizes
from tests.support.project import Project, git


def clone(project: Project, dest: Path) -> Project:
    """A fresh `git clone` of the project's origin (another machine, a CI runner)."""
    git(project.base, "clone", "--quiet", str(project.origin), str(dest))
    other = Project(project.base)
    other.root = dest
    return other


def test_create_list_retract_delete(project: Project) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "notes", prerelease=True)
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "notes", prerelease=True)  # idempotent
    forge.create_release("v1.4.0", "1.4.0", "final", prerelease=False)

    releases = forge.releases()
    assert sorted(releases) == ["v1.4.0", "v1.4.0-rc.1"]
    assert releases["v1.4.0-rc.1"].prerelease and not releases["v1.4.0"].prerelease

    forge.retract_release("v1.4.0", "Retracted: broken")
    forge.retract_release("v1.4.0", "Retracted: again")  # no second note
    final = forge.releases()["v1.4.0"]
    assert final.retracted and final.prerelease
    assert final.notes == f"{RETRACTED_MARKER}\n> **Retracted: broken**\n\nfinal"

    forge.delete_release("v1.4.0-rc.1")
    forge.delete_release("v1.4.0-rc.1")
    assert sorted(forge.releases()) == ["v1.4.0"]
    # One commit per change on origin; the no-ops wrote nothing.
    log = git(project.origin, "log", "--format=%s", "refs/rcflow/forge").splitlines()
    assert log == [
        "rcflow forge: delete v1.4.0-rc.1",
        "rcflow forge: retract v1.4.0",
        "rcflow forge: create release v1.4.0",
        "rcflow forge: create prerelease v1.4.0-rc.1",
    ]


def test_a_different_release_under_the_same_tag_is_a_conflict(project: Project) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0", "1.4.0", "", prerelease=False)
    with pytest.raises(ConflictError):
        forge.create_release("v1.4.0", "1.4.0", "", prerelease=True)


def test_no_ref_means_no_releases_and_reading_writes_nothing(project: Project) -> None:
    before = project.world()
    assert project.local_forge().releases() == {}
    assert project.world() == before


def test_draft_assets_publish_and_latest(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0", "1.4.0", "final", prerelease=False, draft=True)
    payload = tmp_path / "app.whl"
    payload.write_bytes(b"\x00wheel bytes\xff\r\n")
    forge.upload_asset("v1.4.0", payload, "app-1.4.0.whl")
    forge.upload_asset("v1.4.0", payload, "app-1.4.0.whl")  # the same bytes: nothing to do
    other = tmp_path / "other.whl"
    other.write_bytes(b"other bytes")
    with pytest.raises(ConflictError, match="already has an asset"):
        forge.upload_asset("v1.4.0", other, "app-1.4.0.whl")
    draft = forge.releases()["v1.4.0"]
    assert draft.draft and not draft.latest
    asset = draft.asset("app-1.4.0.whl")
    assert asset is not None and asset.size == len(payload.read_bytes())
    assert asset.sha256 == hashlib.sha256(payload.read_bytes()).hexdigest()

    forge.publish_release("v1.4.0", latest=True)
    published = forge.releases()["v1.4.0"]
    assert not published.draft and published.latest
    assert project.forge_latest() == "v1.4.0"

    copy = tmp_path / "copy"
    forge.download_asset("v1.4.0", "app-1.4.0.whl", copy)
    assert copy.read_bytes() == payload.read_bytes()  # byte for byte, no line-ending filters
    with pytest.raises(EffectError, match="no asset"):
        forge.download_asset("v1.4.0", "missing", copy)

    forge.retract_release("v1.4.0", "Retracted: broken")
    assert not forge.releases()["v1.4.0"].latest  # a retracted release is never latest
    forge.create_release("v1.3.0", "1.3.0", "", prerelease=False)
    forge.set_latest("v1.3.0")
    assert forge.releases()["v1.3.0"].latest

    forge.delete_release("v1.4.0")
    assert not any(p.startswith("assets/") for p in project.forge_files())  # bytes nobody lists


def test_an_rc_and_its_final_share_one_copy_of_the_bytes(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    payload = tmp_path / "app.bin"
    payload.write_bytes(b"validated bytes")
    for tag, pre in (("v1.4.0-rc.1", True), ("v1.4.0", False)):
        forge.create_release(tag, tag, "", prerelease=pre, draft=True)
        forge.upload_asset(tag, payload, "app.bin")
    digest = hashlib.sha256(b"validated bytes").hexdigest()
    assets = [p for p in project.forge_files() if p.startswith("assets/")]
    assert assets == [f"assets/sha256/{digest}"]
    forge.delete_release("v1.4.0-rc.1")  # the final still lists them: the bytes stay
    assert project.forge_asset("v1.4.0", "app.bin") == b"validated bytes"


def test_a_fresh_clone_sees_every_record_and_byte(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "notes", prerelease=True, draft=True)
    payload = tmp_path / "app.tar.gz"
    payload.write_bytes(bytes(range(256)) * 40)
    forge.upload_asset("v1.4.0-rc.1", payload, "app.tar.gz")
    forge.publish_release("v1.4.0-rc.1", latest=False)

    other = clone(project, tmp_path / "runner").local_forge()
    assert other.releases() == forge.releases()
    copy = tmp_path / "downloaded"
    other.download_asset("v1.4.0-rc.1", "app.tar.gz", copy)
    assert copy.read_bytes() == payload.read_bytes()
    # Deleting this clone's caches (its copy of the ref, .git/rcflow/) changes nothing.
    project.git("update-ref", "-d", "refs/rcflow/forge")
    shutil.rmtree(project.root / ".git" / "rcflow", ignore_errors=True)
    assert project.local_forge().releases() == forge.releases()


def test_tags_with_slashes(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    payload = tmp_path / "a.txt"
    payload.write_text("a\n")
    forge.create_release("pkg/v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    forge.upload_asset("pkg/v1.4.0-rc.1", payload, "a.txt")
    forge.publish_release("pkg/v1.4.0-rc.1", latest=False)
    assert project.forge_tags() == ["pkg/v1.4.0-rc.1"]
    assert "releases/pkg/v1.4.0-rc.1.json" in project.forge_files()
    assert project.local_forge().releases()["pkg/v1.4.0-rc.1"].asset("a.txt") is not None
    forge.delete_release("pkg/v1.4.0-rc.1")
    assert project.forge_tags() == []


def test_a_write_on_a_stale_tip_is_a_conflict_and_writes_nothing(
    project: Project, tmp_path: Path
) -> None:
    mine = project.local_forge()
    mine.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    theirs = clone(project, tmp_path / "other").local_forge()
    theirs.create_release("v1.5.0-rc.1", "1.5.0-rc.1", "", prerelease=True)  # mine has not seen it
    before = project.forge_files()

    with pytest.raises(ConflictError, match="changed while rcflow was writing"):
        mine.publish_release("v1.4.0-rc.1", latest=False)
    assert project.forge_files() == before

    # A write that someone else already made is no conflict: it holds.
    theirs.publish_release("v1.4.0-rc.1", latest=False)
    stale = project.local_forge()
    stale.releases()  # reads the tip now ...
    theirs.create_release("v1.6.0-rc.1", "1.6.0-rc.1", "", prerelease=True)  # ... which moves on
    stale.publish_release("v1.4.0-rc.1", latest=False)  # holds: nothing to do, no push at all
    stale.create_release("v1.5.0-rc.1", "1.5.0-rc.1", "", prerelease=True)
    assert not project.local_forge().releases()["v1.4.0-rc.1"].draft


def test_a_rejected_push_that_already_holds_is_success(project: Project, tmp_path: Path) -> None:
    mine = project.local_forge()
    mine.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "", prerelease=True, draft=True)
    theirs = clone(project, tmp_path / "other").local_forge()
    theirs.publish_release("v1.4.0-rc.1", latest=False)
    mine.publish_release("v1.4.0-rc.1", latest=False)  # rejected, re-read: it is published
    assert not project.local_forge().releases()["v1.4.0-rc.1"].draft
    log = git(project.origin, "log", "--format=%s", "refs/rcflow/forge").splitlines()
    assert log.count("rcflow forge: publish v1.4.0-rc.1") == 1


def test_an_asset_whose_bytes_are_gone_is_not_there(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "x", "", prerelease=True, draft=True)
    payload = tmp_path / "app.bin"
    payload.write_bytes(b"bytes")
    forge.upload_asset("v1.4.0-rc.1", payload, "app.bin")
    project.tamper_forge(f"assets/sha256/{hashlib.sha256(b'bytes').hexdigest()}", None)

    fresh = project.local_forge()
    assert fresh.releases()["v1.4.0-rc.1"].assets == ()
    with pytest.raises(EffectError, match=r"no asset app\.bin"):
        fresh.download_asset("v1.4.0-rc.1", "app.bin", tmp_path / "copy")
    fresh.upload_asset("v1.4.0-rc.1", payload, "app.bin")  # an upload repairs it
    assert project.forge_asset("v1.4.0-rc.1", "app.bin") == b"bytes"


def test_a_record_that_is_not_json_is_one_line(project: Project) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "x", "", prerelease=True)
    project.tamper_forge("releases/v1.4.0-rc.1.json", b"{not json")
    with pytest.raises(EffectError, match=r"releases/v1\.4\.0-rc\.1\.json .* is not a release"):
        project.local_forge().releases()


def test_an_asset_above_the_git_limit_is_refused_before_anything(
    project: Project, tmp_path: Path
) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "x", "", prerelease=True, draft=True)
    before = project.forge_files()
    big = tmp_path / "huge.iso"
    with big.open("wb") as fh:
        fh.truncate(GIT_ASSET_LIMIT + 1)  # sparse: no 100 MiB written to the disk
    with pytest.raises(BlockedError, match=r"huge\.iso is 100\.0 MiB.*nothing was uploaded"):
        forge.upload_asset("v1.4.0-rc.1", big, "huge.iso")
    assert project.forge_files() == before


def test_the_size_policy() -> None:
    refusals, warnings = git_asset_sizes(
        {"ok.bin": 10, "big.bin": 60 * 1024 * 1024, "huge.bin": GIT_ASSET_LIMIT + 1}
    )
    assert refusals == [
        "huge.bin is 100.0 MiB, above the 100.0 MiB a git host accepts for one file"
    ]
    assert len(warnings) == 1 and warnings[0].startswith("big.bin is 60.0 MiB")
    assert 'forge = "github"' in warnings[0]
    assert git_asset_sizes({"edge.bin": GIT_ASSET_LIMIT}) == (
        [],
        [warnings[0].replace("big.bin is 60.0", "edge.bin is 100.0")],
    )


def legacy_store(project: Project) -> Path:
    """What rcflow before the shared store left in a clone: records and assets in the git dir."""
    root = project.root / ".git" / "rcflow" / "forge"
    data = b"legacy bytes"
    digest = hashlib.sha256(data).hexdigest()
    for tag, pre in (("v1.3.0", False), ("v1.4.0-rc.1", True)):
        path = root / "releases" / f"{tag}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"tag": tag, "title": tag, "notes": "old", "prerelease": pre, "draft": False}
        record["assets"] = [{"name": "app.bin", "size": len(data), "sha256": digest}]
        path.write_text(json.dumps(record))
        (root / "assets" / tag).mkdir(parents=True, exist_ok=True)
        (root / "assets" / tag / "app.bin").write_bytes(data)
    (root / "latest").write_text("v1.3.0\n")
    return root


def test_legacy_records_are_imported_on_the_first_write(project: Project, tmp_path: Path) -> None:
    root = legacy_store(project)
    forge = project.local_forge()
    # Before any write, this clone still shows what it had; origin has nothing yet.
    assert sorted(forge.releases()) == ["v1.3.0", "v1.4.0-rc.1"]
    assert forge.releases()["v1.3.0"].latest
    assert project.forge_files() == {}

    forge.publish_release("v1.4.0-rc.1", latest=False)  # already published: no write, no import
    assert project.forge_files() == {}
    forge.create_release("v1.4.0", "1.4.0", "", prerelease=False, draft=True)

    assert project.forge_tags() == ["v1.3.0", "v1.4.0", "v1.4.0-rc.1"]
    assert project.forge_latest() == "v1.3.0"
    assert project.forge_asset("v1.4.0-rc.1", "app.bin") == b"legacy bytes"
    assert not root.exists() and (root.parent / "forge.imported").is_dir()
    message = git(project.origin, "log", "-1", "--format=%B", "refs/rcflow/forge")
    assert "Imported the records kept in .git/rcflow/forge" in message

    other = clone(project, tmp_path / "other").local_forge()
    assert other.releases() == project.local_forge().releases()
    assert other.releases()["v1.4.0-rc.1"].asset("app.bin") is not None


def test_legacy_records_are_ignored_once_the_remote_has_a_forge(
    project: Project, tmp_path: Path
) -> None:
    clone(project, tmp_path / "other").local_forge().create_release(
        "v2.0.0", "2.0.0", "", prerelease=False
    )
    legacy_store(project)
    assert sorted(project.local_forge().releases()) == ["v2.0.0"]


# -- copying an asset shares its stored content ------------------------------------------------


def no_blob_writes(forge: LocalForge, monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """The files the forge writes into git's object store from now on (records are texts)."""
    written: list[list[Path]] = []
    store_files = forge.store.store_files

    def counting(paths: Sequence[Path]) -> list[str]:
        written.append(list(paths))
        return store_files(paths)

    monkeypatch.setattr(forge.store, "store_files", counting)
    return written


def test_copy_asset_names_the_stored_content_and_writes_no_bytes(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge = project.local_forge()
    payload = tmp_path / "app.bin"
    payload.write_bytes(b"validated bytes" * 100)
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    forge.create_release("v1.4.0-rc.1", "rc", "", prerelease=True)
    forge.upload_asset("v1.4.0-rc.1", payload, "app.bin", sha256=digest)
    forge.create_release("v1.4.0", "final", "", prerelease=False, draft=True)
    before = git(project.origin, "rev-parse", "refs/rcflow/forge")
    written = no_blob_writes(forge, monkeypatch)

    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.bin", digest) == digest

    # Only the final's record changed (and the index that describes the records): its asset is
    # the RC's blob.
    changed = git(project.origin, "diff", "--name-only", before, "refs/rcflow/forge").split()
    assert changed == ["index.json", "releases/v1.4.0.json"]
    assert all("rcflow-store-" in str(p.parent) for batch in written for p in batch)  # records
    assert forge.releases()["v1.4.0"].asset("app.bin") == forge.releases()["v1.4.0-rc.1"].asset(
        "app.bin"
    )
    tip = git(project.origin, "rev-parse", "refs/rcflow/forge")
    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.bin", digest) == digest  # holds
    assert git(project.origin, "rev-parse", "refs/rcflow/forge") == tip
    # Uploading bytes the store holds already (another release's) writes no second blob.
    forge.create_release("v1.4.1", "again", "", prerelease=False, draft=True)
    written.clear()
    forge.upload_asset("v1.4.1", payload, "app.bin", sha256=digest)
    assert [p for batch in written for p in batch if p == payload] == []
    assert [p for p in project.forge_files() if p.startswith("assets/")] == [
        f"assets/sha256/{digest}"
    ]


def test_copy_asset_refuses_content_that_is_not_its_address(
    project: Project, tmp_path: Path
) -> None:
    forge = project.local_forge()
    payload = tmp_path / "app.bin"
    payload.write_bytes(b"validated bytes")
    digest = hashlib.sha256(b"validated bytes").hexdigest()
    forge.create_release("v1.4.0-rc.1", "rc", "", prerelease=True)
    forge.upload_asset("v1.4.0-rc.1", payload, "app.bin")
    forge.create_release("v1.4.0", "final", "", prerelease=False, draft=True)
    project.tamper_forge(f"assets/sha256/{digest}", b"swapped bytes!!")  # the same size
    forge = project.local_forge()
    tip = git(project.origin, "rev-parse", "refs/rcflow/forge")

    actual = forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.bin", digest)

    assert actual == hashlib.sha256(b"swapped bytes!!").hexdigest()
    assert git(project.origin, "rev-parse", "refs/rcflow/forge") == tip  # nothing written
    assert forge.releases()["v1.4.0"].assets == ()
    # Asked for other bytes than the RC holds: nothing copied either.
    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.bin", "0" * 64) == actual
    with pytest.raises(EffectError, match=r"no asset other\.bin on v1\.4\.0-rc\.1"):
        forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "other.bin", digest)


def test_download_hashes_what_it_writes(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    payload = tmp_path / "app.bin"
    payload.write_bytes(bytes(range(256)) * 5000)
    forge.create_release("v1.4.0-rc.1", "rc", "", prerelease=True)
    forge.upload_asset("v1.4.0-rc.1", payload, "app.bin")
    copy = tmp_path / "copy"
    assert (
        forge.download_asset("v1.4.0-rc.1", "app.bin", copy)
        == hashlib.sha256(payload.read_bytes()).hexdigest()
    )
    assert copy.read_bytes() == payload.read_bytes()


def test_a_legacy_rc_asset_is_copied_onto_its_final(project: Project, tmp_path: Path) -> None:
    legacy_store(project)
    forge = project.local_forge()
    digest = hashlib.sha256(b"legacy bytes").hexdigest()
    copy = tmp_path / "copy"
    assert forge.download_asset("v1.4.0-rc.1", "app.bin", copy) == digest  # read as it was
    forge.create_release("v1.4.0", "1.4.0", "", prerelease=False, draft=True)  # imports

    assert forge.copy_asset("v1.4.0-rc.1", "v1.4.0", "app.bin", digest) == digest

    assert project.forge_asset("v1.4.0", "app.bin") == b"legacy bytes"
    assert [p for p in project.forge_files() if p.startswith("assets/")] == [
        f"assets/sha256/{digest}"
    ]


# -- reads cost what changed, not every release ever made (issue 14) ---------------------------


def counted_reads(forge: LocalForge, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The blobs the forge reads from git from now on (records and the latest pointer)."""
    read: list[str] = []
    texts = forge.store.texts

    def counting(blobs: Sequence[str]) -> dict[str, str]:
        read.extend(blobs)
        return texts(blobs)

    monkeypatch.setattr(forge.store, "texts", counting)
    return read


def without_index(project: Project) -> None:
    """The forge as an older rcflow left it: records, no index (read whole, with the memo)."""
    project.tamper_forge("index.json", None)


def test_a_second_read_takes_the_records_from_the_memo(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    forge = project.local_forge()
    for n in range(1, 6):
        forge.create_release(f"v1.{n}.0", f"1.{n}.0", f"notes {n}", prerelease=False)
    forge.set_latest("v1.5.0")
    without_index(project)
    first = project.local_forge()
    read = counted_reads(first, monkeypatch)
    expected = first.releases()
    assert len(read) == 6  # five records and the latest pointer

    again = project.local_forge()
    read = counted_reads(again, monkeypatch)
    assert again.releases() == expected
    assert len(read) == 1  # the latest pointer only: the records are the memo's

    # One more release: the next process reads that record, not the five it knows.
    project.local_forge().create_release("v1.6.0", "1.6.0", "notes 6", prerelease=False)
    without_index(project)
    after = project.local_forge()
    read = counted_reads(after, monkeypatch)
    assert sorted(after.releases()) == [f"v1.{n}.0" for n in range(1, 7)]
    assert len(read) == 2


@pytest.mark.parametrize("memo", [b"", b"\x00garbage", None])
def test_the_memo_is_never_the_truth(project: Project, tmp_path: Path, memo: bytes | None) -> None:
    """A damaged memo, none at all, or one that cannot be written: the same releases."""
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "1.4.0-rc.1", "notes", prerelease=True, draft=True)
    forge.create_release("v1.4.0", "1.4.0", "final", prerelease=False)
    without_index(project)
    expected = dict(project.local_forge().releases())
    path = project.root / ".git" / "rcflow" / "forge-records.memo"
    assert path.is_file()
    if memo is None:
        path.unlink()
        path.mkdir()  # cannot be read nor replaced
    else:
        path.write_bytes(memo)
    assert project.local_forge().releases() == expected
    # A fresh clone has no memo: the same answer, read from git.
    other = clone(project, tmp_path / "runner")
    assert other.local_forge().releases() == expected
    # A record tampered with on the remote is a new blob: the memo cannot hide it.
    record = json.loads(git(project.origin, "show", "refs/rcflow/forge:releases/v1.4.0.json"))
    record["title"] = "edited by hand"
    project.tamper_forge("releases/v1.4.0.json", json.dumps(record).encode())
    assert project.local_forge().releases()["v1.4.0"].title == "edited by hand"


def test_a_write_changes_its_own_record_only(project: Project) -> None:
    """Records are shared between the states before and after a write, never changed in place."""
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "rc", "", prerelease=True, draft=True)
    forge.create_release("v1.3.0", "old", "", prerelease=False)
    tip = git(project.origin, "rev-parse", "refs/rcflow/forge").strip()
    before = forge._load(tip)
    forge.publish_release("v1.4.0-rc.1", latest=True)
    forge.retract_release("v1.3.0", "broken")
    assert before.records["v1.4.0-rc.1"]["draft"] is True
    assert before.records["v1.3.0"]["retracted"] is False
    fresh = project.local_forge().releases()
    assert not fresh["v1.4.0-rc.1"].draft and fresh["v1.4.0-rc.1"].latest
    assert fresh["v1.3.0"].retracted
    changed = git(project.origin, "diff", "--name-only", f"{tip}", "refs/rcflow/forge").split()
    assert changed == [
        "index.json",
        "latest",
        "releases/v1.3.0.json",
        "releases/v1.4.0-rc.1.json",
    ]


def test_a_write_rebuilds_the_facts_of_what_it_changed(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    forge.create_release("v1.3.0", "old", "", prerelease=False)
    forge.create_release("v1.4.0-rc.1", "rc", "", prerelease=True, draft=True)
    before = forge.releases()
    payload = tmp_path / "app.bin"
    payload.write_bytes(b"bytes")
    forge.upload_asset("v1.4.0-rc.1", payload, "app.bin")
    forge.publish_release("v1.4.0-rc.1", latest=True)
    after = forge.releases()
    assert after["v1.3.0"] is before["v1.3.0"]  # untouched: the same fact, not rebuilt
    assert after["v1.4.0-rc.1"].latest and not after["v1.4.0-rc.1"].draft
    assert [a.name for a in after["v1.4.0-rc.1"].assets] == ["app.bin"]
    assert after == project.local_forge().releases()  # what a fresh read builds
    forge.set_latest("v1.3.0")  # the latest flag moves: both facts change
    moved = forge.releases()
    assert moved["v1.3.0"].latest and not moved["v1.4.0-rc.1"].latest
    assert moved == project.local_forge().releases()


def test_the_tree_listing_reads_odd_paths_and_only_blobs(project: Project) -> None:
    """`TreeStore.entries` parses ls-tree's NUL-separated records in one pass: a path with a
    tab or a newline is one path, and a gitlink (a submodule's commit) is no file."""
    from rcflow.adapters.git import Git, TreeStore

    def run(*args: str, stdin: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=project.origin, input=stdin, capture_output=True, text=True
        )
        return done.stdout.strip()

    blob = run("hash-object", "-w", "--stdin", stdin="x\n")
    head = git(project.origin, "rev-parse", "HEAD").strip()
    listing = (
        f"100644 blob {blob}\ta\tb.json\x00100644 blob {blob}\tnew\nline\x00"
        f"160000 commit {head}\tsub\x00"
    )
    tree = run("mktree", "-z", "--missing", stdin=listing)
    store = TreeStore(Git(project.root, project.root / ".git"), "origin", "refs/rcflow/forge")
    commit = git(project.origin, "commit-tree", tree, "-m", "odd").strip()
    git(project.root, "fetch", "--quiet", str(project.origin), commit)
    assert store.entries(commit) == {
        "a\tb.json": (blob, 2),
        "new\nline": (blob, 2),
    }


# -- the index: a read of one release reads one record (issue 14) ---------------------------------


def _forge_with_history(project: Project) -> LocalForge:
    forge = project.local_forge()
    for n in range(1, 5):
        forge.create_release(f"v1.{n}.0-rc.1", "rc", f"rc {n}", prerelease=True)
        forge.create_release(f"v1.{n}.0", f"1.{n}.0", f"notes {n}", prerelease=False)
    forge.create_release("v1.5.0-rc.1", "rc", "in flight", prerelease=True, draft=True)
    forge.publish_release("v1.4.0", latest=True)
    return forge


def _whole(releases: object) -> dict[str, object]:
    assert isinstance(releases, Mapping)
    return {tag: releases[tag] for tag in releases}


def test_the_index_names_the_releases_tree_git_made(project: Project) -> None:
    from rcflow.adapters.local_forge import blob_sha, index_text

    _forge_with_history(project)
    body = json.loads(git(project.origin, "show", "refs/rcflow/forge:index.json"))
    tree = git(project.origin, "rev-parse", "refs/rcflow/forge:releases").strip()
    assert body["releases"] == tree
    assert body["drafts"] == ["v1.5.0-rc.1"]
    assert len(body["tags"]) == 9 and body["elsewhere"] == {}
    # Records in a folder of their own (by hand, or another tool): git's order of a folder
    # ("a/" after "a.json") is the one computed.
    texts = {
        "releases/a.json": '{"tag": "a"}\n',
        "releases/a/b.json": '{"tag": "b", "draft": true}\n',
        "releases/a-c.json": '{"tag": "c"}\n',
    }
    for path, text in texts.items():
        project.tamper_forge(path, text.encode())
    listing = git(project.origin, "ls-tree", "-r", "--name-only", "refs/rcflow/forge", "releases")
    records = {}
    for path in listing.split():
        data = subprocess.run(
            ["git", "cat-file", "blob", f"refs/rcflow/forge:{path}"],
            cwd=project.origin,
            capture_output=True,
            check=True,
        ).stdout
        records[path] = (blob_sha(data), json.loads(data))
    body = json.loads(index_text(records))
    tree = git(project.origin, "rev-parse", "refs/rcflow/forge:releases").strip()
    assert body["releases"] == tree
    assert body["elsewhere"] == {"b": "releases/a/b.json", "c": "releases/a-c.json"}
    assert "a" in body["tags"]
    assert body["drafts"] == ["b", "v1.5.0-rc.1"]


def test_a_read_takes_the_index_and_only_the_releases_it_shows(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forge_with_history(project)
    runner = clone(project, tmp_path / "runner")  # a fresh clone: no memo, nothing cached
    whole = _whole(runner.local_forge().releases())
    without_index(project)
    assert _whole(project.local_forge().releases()) == whole  # as read record by record
    project.local_forge().set_latest("v1.3.0")  # a write by this rcflow puts the index back
    project.local_forge().set_latest("v1.4.0")

    forge = project.local_forge()
    read = counted_reads(forge, monkeypatch)
    releases = forge.releases()
    assert len(read) == 2  # the index and the latest pointer: no record yet
    assert sorted(releases) == sorted(whole) and "v1.5.0-rc.1" in releases
    assert "v9.9.9" not in releases and releases.get("v9.9.9") is None
    assert releases["v1.4.0"] == whole["v1.4.0"] and releases["v1.4.0"].latest
    assert len(read) == 3  # one record, once
    assert releases["v1.4.0"] is releases["v1.4.0"] and len(read) == 3
    assert _whole(releases) == whole


@pytest.mark.parametrize(
    "edit",
    [
        ("releases/v1.2.0.json", b'{"tag": "v1.2.0", "title": "by hand", "draft": true}'),
        ("releases/v1.2.0.json", None),
        ("releases/v1.9.0.json", b'{"tag": "v1.9.0", "title": "made by hand"}'),
        ("index.json", b'{"v": 1, "releases": null, "tags": [], "elsewhere": {}, "drafts": []}'),
        ("index.json", b"\x00not json"),
    ],
)
def test_an_index_that_does_not_describe_the_records_is_not_read(
    project: Project, tmp_path: Path, edit: tuple[str, bytes | None]
) -> None:
    """Records edited by hand (or by an older rcflow, which leaves the index as it was), or an
    index that lies: the releases are the records', read whole."""
    from rcflow.adapters.local_forge import LocalForge

    _forge_with_history(project)
    project.tamper_forge(*edit)
    monkey = pytest.MonkeyPatch()
    with monkey.context() as m:
        m.setattr(LocalForge, "_catalog", lambda self, tip: None)
        expected = _whole(project.local_forge().releases())
    runner = clone(project, tmp_path / "runner")
    for forge in (project.local_forge(), runner.local_forge()):
        releases = forge.releases()
        assert _whole(releases) == expected
        assert {t for t in releases if releases[t].draft} == set(getattr(releases, "drafts", set()))
