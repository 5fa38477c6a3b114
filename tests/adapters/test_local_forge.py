"""The local forge: release records under the git dir, idempotent by tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcflow.adapters.local_forge import LocalForge
from rcflow.errors import ConflictError


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
    assert final.retracted
    assert final.notes == "Retracted: broken\n\nfinal"

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
