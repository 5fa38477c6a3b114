"""Assets: a build staged once with its checksums, uploaded as is, carried byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rcflow.adapters.git import Git
from rcflow.engine import release_assets as assets
from rcflow.errors import ConflictError, EffectError
from rcflow.ports.forge import CHECKSUMS, parse_checksums, render_checksums
from tests.support.project import Project


def build(
    p: Project, command: str | None, patterns: tuple[str, ...] = ("dist/*",)
) -> dict[str, str]:
    git = Git(p.root, p.root / ".git")
    return assets.build(
        git,
        tag="v1.4.0-rc.1",
        sha=p.head(),
        command=command,
        patterns=patterns,
        env={"RCFLOW_PEP440": "1.4.0rc1"},
        timeout=30,
    )


def stage(p: Project) -> Path:
    return assets.stage_dir(p.root / ".git", "v1.4.0-rc.1")


def test_build_runs_in_a_clean_worktree_and_stages_with_sums(project: Project) -> None:
    project.write("untracked.txt", "not in the commit")  # the worktree never sees this
    sums = build(
        project,
        'mkdir -p dist/sub && echo "$RCFLOW_PEP440" > dist/app.txt && ls > dist/sub/listing.txt',
        ("dist/*", "dist/**/*.txt"),
    )
    assert sorted(sums) == ["app.txt", "listing.txt"]
    assert (stage(project) / "app.txt").read_text() == "1.4.0rc1\n"
    assert "untracked.txt" not in (stage(project) / "listing.txt").read_text()
    assert assets.staged(stage(project)) == sums
    assert parse_checksums((stage(project) / CHECKSUMS).read_text()) == sums


def test_a_tampered_stage_is_not_complete(project: Project) -> None:
    build(project, "mkdir -p dist && echo one > dist/a.txt")
    (stage(project) / "a.txt").write_text("changed\n")
    assert assets.staged(stage(project)) is None


@pytest.mark.parametrize(
    ("command", "patterns", "message"),
    [
        (
            "exit 3",
            ("dist/*",),
            r"the asset build failed \(exit 3\); its output is in .*build\.log",
        ),
        ("true", ("dist/*",), r"\[assets\] files matched nothing in v1\.4\.0-rc\.1: dist/\*"),
        (
            "mkdir -p a b && touch a/x.bin b/x.bin",
            ("a/*", "b/*"),
            r"two assets are named x\.bin \(a/x\.bin and b/x\.bin\)",
        ),
    ],
)
def test_build_failures_are_one_line(
    project: Project, command: str, patterns: tuple[str, ...], message: str
) -> None:
    with pytest.raises(EffectError, match=message):
        build(project, command, patterns)
    assert assets.staged(stage(project)) is None


def test_upload_skips_what_is_there_and_refuses_other_bytes(project: Project) -> None:
    sums = build(project, "mkdir -p dist && echo one > dist/a.txt && echo two > dist/b.txt")
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "x", "", prerelease=True, draft=True)
    forge.upload_asset("v1.4.0-rc.1", stage(project) / "a.txt", "a.txt")  # a run stopped here

    assert assets.upload_missing(forge, forge.releases(), "v1.4.0-rc.1", stage(project), sums) == [
        "b.txt",
        CHECKSUMS,
    ]
    assert assets.upload_missing(forge, forge.releases(), "v1.4.0-rc.1", stage(project), sums) == []

    other = project.root / "other"
    other.write_text("not the staged bytes\n")
    forge.create_release("v1.4.0-rc.2", "x", "", prerelease=True)  # published
    forge.upload_asset("v1.4.0-rc.2", other, "a.txt")
    with pytest.raises(ConflictError, match=r"already has an asset a\.txt with other bytes"):
        assets.upload_missing(forge, forge.releases(), "v1.4.0-rc.2", stage(project), sums)
    assert forge.releases()["v1.4.0-rc.2"].asset("b.txt") is None  # nothing changed


def test_a_draft_holding_another_builds_files_gets_the_staged_ones(project: Project) -> None:
    # A run uploaded half of its build, then the job died; its stage died with the runner. The
    # next run on another machine builds again (other bytes): nobody has seen the draft, so its
    # files are replaced rather than refused.
    sums = build(project, "mkdir -p dist && echo one > dist/a.txt && echo two > dist/b.txt")
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "x", "", prerelease=True, draft=True)
    stale = project.root / "stale"
    stale.write_text("the first machine's build\n")
    forge.upload_asset("v1.4.0-rc.1", stale, "a.txt")

    assert assets.upload_missing(forge, forge.releases(), "v1.4.0-rc.1", stage(project), sums) == [
        "a.txt",
        "b.txt",
        CHECKSUMS,
    ]
    copy = project.root / "copy"
    forge.download_asset("v1.4.0-rc.1", "a.txt", copy)
    assert copy.read_text() == "one\n"


def test_carry_verifies_every_file_against_the_rc_sums(project: Project, tmp_path: Path) -> None:
    forge = project.local_forge()
    forge.create_release("v1.4.0-rc.1", "x", "", prerelease=True)
    good = tmp_path / "app.bin"
    good.write_bytes(b"validated bytes")
    forge.upload_asset("v1.4.0-rc.1", good, "app.bin")
    sums = tmp_path / CHECKSUMS
    sums.write_text(render_checksums({"app.bin": hashlib.sha256(b"validated bytes").hexdigest()}))
    forge.upload_asset("v1.4.0-rc.1", sums, CHECKSUMS)
    forge.create_release("v1.4.0", "x", "", prerelease=False, draft=True)

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert assets.carry(forge, forge.releases(), "v1.4.0-rc.1", "v1.4.0", scratch) == [
        "app.bin",
        CHECKSUMS,
    ]
    copy = tmp_path / "copy"
    forge.download_asset("v1.4.0", "app.bin", copy)
    assert copy.read_bytes() == b"validated bytes"
    assert assets.carry(forge, forge.releases(), "v1.4.0-rc.1", "v1.4.0", scratch) == []

    # An RC asset changed after validation (someone replaced it by hand): nothing is carried.
    digest = hashlib.sha256(b"validated bytes").hexdigest()
    project.tamper_forge(f"assets/sha256/{digest}", b"swapped")
    forge = project.local_forge()  # sees the hand edit
    forge.create_release("v1.4.1", "x", "", prerelease=False, draft=True)
    with pytest.raises(EffectError, match="does not match its SHA256SUMS"):
        assets.carry(forge, forge.releases(), "v1.4.0-rc.1", "v1.4.1", scratch)
    assert forge.releases()["v1.4.1"].assets == ()


def test_checksum_lines() -> None:
    digest = "ab" * 32
    assert parse_checksums(f"{digest}  a.txt\n{digest} *b.bin\n\n") == {
        "a.txt": digest,
        "b.bin": digest,
    }
    with pytest.raises(ValueError, match="not a SHA256SUMS line"):
        parse_checksums("xyz  a.txt\n")
