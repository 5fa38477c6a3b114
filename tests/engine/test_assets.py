"""Assets: a build staged once with its checksums, uploaded as is, carried byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from rcflow.adapters.git import Git
from rcflow.engine import release_assets as assets
from rcflow.errors import ConflictError, EffectError, RcflowError
from rcflow.ports.forge import CHECKSUMS, parse_checksums, render_checksums
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from tests.support.crash import Attempt, crash_each_write
from tests.support.project import Project, copy_project
from tests.support.scenario import at


def build(p: Project, command: str | None, patterns: tuple[str, ...] = ("dist/*",)) -> list[str]:
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
    names = build(
        project,
        'mkdir -p dist/sub && echo "$RCFLOW_PEP440" > dist/app.txt && ls > dist/sub/listing.txt',
        ("dist/*", "dist/**/*.txt"),
    )
    assert names == ["app.txt", "listing.txt"]
    assert (stage(project) / "app.txt").read_text() == "1.4.0rc1\n"
    assert "untracked.txt" not in (stage(project) / "listing.txt").read_text()
    assert assets.staged_files(stage(project)) == names
    assert assets.staged(stage(project)) == {
        name: hashlib.sha256((stage(project) / name).read_bytes()).hexdigest() for name in names
    }
    # The files are hashed as they are uploaded; SHA256SUMS is written from those digests.
    assert not (stage(project) / CHECKSUMS).exists()


def test_a_stage_without_its_marker_is_not_complete(project: Project) -> None:
    build(project, "mkdir -p dist && echo one > dist/a.txt")
    (stage(project) / assets.MARKER).unlink()  # the build stopped before writing it
    assert assets.staged_files(stage(project)) is None


def test_a_tampered_stage_is_not_complete(project: Project) -> None:
    build(project, "mkdir -p dist && echo one > dist/a.txt && echo two > dist/b.txt")
    (stage(project) / "a.txt").write_text("changed\n")
    assert assets.staged_files(stage(project)) is None
    assert assets.staged(stage(project)) is None

    build(project, "mkdir -p dist && echo one > dist/a.txt && echo two > dist/b.txt")
    b = stage(project) / "b.txt"
    os.utime(b, ns=(b.stat().st_atime_ns, b.stat().st_mtime_ns + 1))  # rewritten, same size
    assert assets.staged_files(stage(project)) is None

    build(project, "mkdir -p dist && echo one > dist/a.txt")
    (stage(project) / "a.txt").unlink()
    assert assets.staged_files(stage(project)) is None


def test_a_stage_completed_by_an_earlier_rcflow_is_read_by_its_sha256sums(
    project: Project,
) -> None:
    # Before the marker, SHA256SUMS was written last into the stage: such a stage is complete
    # when every file has its listed digest.
    build(project, "mkdir -p dist && echo one > dist/a.txt")
    (stage(project) / assets.MARKER).unlink()
    digest = hashlib.sha256(b"one\n").hexdigest()
    (stage(project) / CHECKSUMS).write_text(render_checksums({"a.txt": digest}))
    assert assets.staged(stage(project)) == {"a.txt": digest}
    (stage(project) / CHECKSUMS).write_text(render_checksums({"a.txt": "0" * 64}))
    assert assets.staged_files(stage(project)) is None


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


# -- one pass over each asset; one copy of each content on the local forge ---------------------

# Not reproducible: a rebuild's bytes differ, so only the RC's bytes can make the final's.
NOISY = (
    '[assets]\nfiles = ["dist/*"]\n'
    'build = "mkdir -p dist && head -c 4096 /dev/urandom > dist/app.bin'
    ' && echo $RCFLOW_PEP440 > dist/v.txt"\n'
    '[[validate]]\nname = "unit"\nrun = "true"\n'
)
RC, FINAL = "v1.4.0-rc.1", "v1.4.0"


def stored(p: Project) -> dict[str, dict[str, str]]:
    """Each release's assets on origin's forge ref (name -> sha256), after checking that every
    content is stored once, at its address, and that nothing else is stored."""
    files = p.forge_files()
    records = {
        path.removeprefix("releases/").removesuffix(".json"): json.loads(data)
        for path, data in files.items()
        if path.startswith("releases/")
    }
    blobs = {path.removeprefix("assets/sha256/"): data for path, data in files.items()}
    blobs = {
        d: data
        for d, data in blobs.items()
        if not d.startswith(("releases/", "latest", "index.json"))
    }
    listed = {a["sha256"] for r in records.values() for a in r.get("assets", [])}
    assert set(blobs) == listed
    for digest, data in blobs.items():
        assert hashlib.sha256(data).hexdigest() == digest
    return {
        tag: {a["name"]: a["sha256"] for a in r.get("assets", [])} for tag, r in records.items()
    }


def rc_assets_checked(p: Project) -> dict[str, str]:
    rc = stored(p)[RC]
    sums = parse_checksums((p.forge_asset(RC, CHECKSUMS) or b"").decode())
    assert sorted(rc) == sorted([*sums, CHECKSUMS]) == [CHECKSUMS, "app.bin", "v.txt"]
    assert all(rc[n] == d for n, d in sums.items())
    return rc


def count_hashes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every sha256 rcflow computes of a file or a stored blob, by kind: the file's name or blob."""
    from rcflow.adapters import local_forge
    from rcflow.adapters.git import TreeStore

    seen: dict[str, list[str]] = {"files": [], "blobs_read": [], "blobs_hashed": []}
    for module in (assets, local_forge):
        original = module.sha256_file

        def counting(path: Path, original: Any = original) -> str:
            seen["files"].append(path.name)
            return str(original(path))

        monkeypatch.setattr(module, "sha256_file", counting)
    to_file, sha = TreeStore.blob_to_file, TreeStore.blob_sha256

    def blob_to_file(self: TreeStore, blob: str, dest: Path) -> str:
        seen["blobs_read"].append(dest.name)
        return to_file(self, blob, dest)

    def blob_sha256(self: TreeStore, blob: str) -> str:
        seen["blobs_hashed"].append(blob)
        return sha(self, blob)

    monkeypatch.setattr(TreeStore, "blob_to_file", blob_to_file)
    monkeypatch.setattr(TreeStore, "blob_sha256", blob_sha256)
    return seen


def test_rc_reads_each_asset_once_and_keeps_no_stage(
    make_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = at(make_project(config=NOISY), "bumped")
    seen = count_hashes(monkeypatch)

    assert p.step("rc", RcArgs()).status == "applied"

    # Built and moved into the stage unread; hashed once, by the local forge as it stores each
    # file; SHA256SUMS written from those digests (its own hashed in memory).
    assert sorted(seen["files"]) == ["app.bin", "v.txt"]
    assert seen["blobs_read"] == seen["blobs_hashed"] == []
    rc_assets_checked(p)
    assert not assets.stage_dir(p.root / ".git", RC).exists()  # the forge keeps the one copy
    tip = p.git("ls-remote", "origin", "refs/rcflow/forge")
    assert p.step("rc", RcArgs()).status == "done"
    assert p.git("ls-remote", "origin", "refs/rcflow/forge") == tip


def test_promote_shares_the_rcs_stored_bytes_after_hashing_them_once(
    make_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = at(make_project(config=NOISY), "validated")
    rc = rc_assets_checked(p)
    seen = count_hashes(monkeypatch)

    assert p.step("promote", PromoteArgs()).status == "applied"

    found = stored(p)  # one blob per content: the final's records name the RC's
    assert found[FINAL] == rc
    # Nothing downloaded but the small SHA256SUMS (the preflight's and the carry's, hashed as
    # they were read); the other stored contents hashed once each before they are shared.
    assert seen["blobs_read"] == [CHECKSUMS, CHECKSUMS]
    assert len(seen["blobs_hashed"]) == len(set(seen["blobs_hashed"])) == 2
    assert seen["files"] == []
    tip = p.git("ls-remote", "origin", "refs/rcflow/forge")
    assert p.step("promote", PromoteArgs()).status == "done"
    assert p.git("ls-remote", "origin", "refs/rcflow/forge") == tip


@pytest.mark.parametrize(
    ("swapped", "code", "cause"),
    [
        # Another size: the forge does not hold the asset any more; the preflight refuses.
        (b"not what was validated", 3, "forge.rc-assets"),
        # The same size: only hashing the stored bytes shows it; the carry refuses.
        (b"x" * 4096, 1, "app.bin does not match its SHA256SUMS"),
    ],
)
def test_promote_refuses_an_rc_asset_whose_stored_bytes_changed(
    make_project: Any, swapped: bytes, code: int, cause: str
) -> None:
    p = at(make_project(config=NOISY), "validated")
    rc = rc_assets_checked(p)
    # Someone swapped the stored bytes behind the address (the record and SHA256SUMS unchanged).
    p.tamper_forge(f"assets/sha256/{rc['app.bin']}", swapped)

    result = p.cli("promote")

    assert result.exit_code == code, result.stderr
    assert cause in result.stderr
    assert "app.bin" not in stored_final(p)
    assert FINAL not in p.remote_tags() or code == 1  # the preflight refuses before the tag


def stored_final(p: Project) -> dict[str, str]:
    record = json.loads(p.forge_files().get(f"releases/{FINAL}.json", b"{}"))
    return {a["name"]: a["sha256"] for a in record.get("assets", [])}


@pytest.mark.parametrize("step", ["rc", "promote"])
def test_a_crash_after_each_write_resumes_here_or_in_a_fresh_clone(
    make_project: Any, tmp_path: Path, step: str
) -> None:
    template = at(make_project(config=NOISY), "bumped" if step == "rc" else "validated")
    args = RcArgs() if step == "rc" else PromoteArgs()

    def resume(crash: Attempt) -> None:
        # Odd crashes finish on another machine: a plain clone, no stage, no ledger ref.
        p = crash.fresh_clone() if crash.k % 2 else crash.project
        rerun = p.cli(step)
        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        rc = rc_assets_checked(p)
        if step == "promote":
            assert stored(p)[FINAL] == rc, crash.where
        # The clone that finished keeps no stage (the crashed one's is its own disk's).
        assert not (p.root / ".git" / "rcflow" / "assets" / RC).exists(), crash.where
        tip = p.git("ls-remote", "origin", "refs/rcflow/forge")
        assert p.step(step, args).status == "done", crash.where
        assert p.git("ls-remote", "origin", "refs/rcflow/forge") == tip, crash.where

    crashed = crash_each_write(
        lambda name: copy_project(template, tmp_path / name),
        step,
        args,
        resume,
        tolerate=(RcflowError,),
        limit=60,
    )
    assert ("upload_asset" if step == "rc" else "copy_asset") in crashed


# -- on GitHub: each staged file read once, by its upload -------------------------------------


def test_on_github_rc_hashes_each_asset_as_it_uploads_it(
    make_github_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcflow.adapters import github

    p, server = make_github_project(NOISY)
    server.add_release("v1.3.0", name="1.3.0", body="first release")
    at(p, "bumped")
    read: list[str] = []
    for module in (assets, github):
        original = module.sha256_file

        def counting(path: Path, original: Any = original) -> str:
            read.append(path.name)
            return str(original(path))

        monkeypatch.setattr(module, "sha256_file", counting)

    assert p.step("rc", RcArgs()).status == "applied"

    assert read == []  # no file hashed apart from its upload
    rc = server.release_by_tag(RC)
    assert rc is not None
    data = {a.name: bytes(a.data) for a in rc.assets}
    sums = parse_checksums(data.pop(CHECKSUMS).decode())
    assert sums == {name: hashlib.sha256(b).hexdigest() for name, b in data.items()}
    assert sorted(sums) == ["app.bin", "v.txt"]
    assert not assets.stage_dir(p.root / ".git", RC).exists()


def test_on_github_a_resumed_upload_hashes_the_staged_file_once_to_compare(
    make_github_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, server = make_github_project(NOISY)
    server.add_release("v1.3.0", name="1.3.0", body="first release")
    at(p, "bumped")
    from rcflow.adapters.github import GitHubForge

    # The run stops after its first upload: the release holds app.bin, not v.txt nor SHA256SUMS.
    real = GitHubForge.upload_asset

    def stops(self: GitHubForge, tag: str, path: Path, name: str, **kw: Any) -> str | None:
        if name != "app.bin":
            raise EffectError("the runner died")
        return real(self, tag, path, name, **kw)

    with monkeypatch.context() as m:
        m.setattr(GitHubForge, "upload_asset", stops)
        assert p.cli("rc").exit_code == 1
    rc = server.release_by_tag(RC)
    assert rc is not None and [a.name for a in rc.assets] == ["app.bin"]
    hashed: list[str] = []
    original = assets.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return str(original(path))

    monkeypatch.setattr(assets, "sha256_file", counting)
    monkeypatch.setattr(assets, "_KNOWN", {})  # the run that resumes is another process
    posts = len(server.requests)

    assert p.step("rc", RcArgs()).status == "applied"

    assert hashed == ["app.bin"]  # the staged file, to compare with what GitHub holds
    uploads = [r.query for r in server.requests[posts:] if r.method == "POST"]
    assert [q.split("name=")[1].split("&")[0] for q in uploads] == ["v.txt", CHECKSUMS]
    data = {a.name: bytes(a.data) for a in rc.assets}
    sums = parse_checksums(data.pop(CHECKSUMS).decode())
    assert sums == {name: hashlib.sha256(b).hexdigest() for name, b in data.items()}
