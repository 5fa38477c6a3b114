"""The local forge: release records under the git dir, idempotent by tag."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rcflow.adapters.local_forge import LocalForge
from rcflow.errors import ConflictError, EffectError
from rcflow.forge import RETRACTED_MARKER


def test_create_list_retract_delete(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path)
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


def test_a_different_release_under_the_same_tag_is_a_conflict(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path)
    forge.create_release("v1.4.0", "1.4.0", "", prerelease=False)
    with pytest.raises(ConflictError):
        forge.create_release("v1.4.0", "1.4.0", "", prerelease=True)


def test_no_store_means_no_releases(tmp_path: Path) -> None:
    assert LocalForge(tmp_path / "nothing").releases() == {}


def test_draft_assets_publish_and_latest(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path)
    forge.create_release("v1.4.0", "1.4.0", "final", prerelease=False, draft=True)
    payload = tmp_path / "app.whl"
    payload.write_bytes(b"\x00wheel bytes\xff")
    forge.upload_asset("v1.4.0", payload, "app-1.4.0.whl")
    with pytest.raises(ConflictError, match="already has an asset"):
        forge.upload_asset("v1.4.0", payload, "app-1.4.0.whl")
    draft = forge.releases()["v1.4.0"]
    assert draft.draft and not draft.latest
    asset = draft.asset("app-1.4.0.whl")
    assert asset is not None and asset.size == len(payload.read_bytes())
    assert asset.sha256 == hashlib.sha256(payload.read_bytes()).hexdigest()

    forge.publish_release("v1.4.0", latest=True)
    published = forge.releases()["v1.4.0"]
    assert not published.draft and published.latest

    copy = tmp_path / "copy"
    forge.download_asset("v1.4.0", "app-1.4.0.whl", copy)
    assert copy.read_bytes() == payload.read_bytes()
    with pytest.raises(EffectError, match="no asset"):
        forge.download_asset("v1.4.0", "missing", copy)

    forge.retract_release("v1.4.0", "Retracted: broken")
    assert not forge.releases()["v1.4.0"].latest  # a retracted release is never latest
    forge.create_release("v1.3.0", "1.3.0", "", prerelease=False)
    forge.set_latest("v1.3.0")
    assert forge.releases()["v1.3.0"].latest

    forge.delete_release("v1.4.0")
    assert not (tmp_path / "rcflow" / "forge" / "assets" / "v1.4.0").exists()
