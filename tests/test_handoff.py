"""Any clone finishes what another started: the remote is the whole truth (issue 11).

Each step runs in a different fresh `git clone` of the bare origin, with the local forge (its
records and asset bytes on origin's `refs/rcflow/forge`) and with the GitHub test server; a
fresh clone's `status --json` equals the one of the clone that ran the step; deleting
`.git/rcflow/` changes nothing; racing clones give one winner.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ghserver import GitHubServer

from rcflow.ports.forge import CHECKSUMS, parse_checksums
from tests.support.on_github import GitHubProject
from tests.support.project import Project, fresh_clone, git

RC, FINAL = "v1.4.0-rc.1", "v1.4.0"
# Not reproducible: only carrying the RC's bytes gives the final the same files.
BUILD = (
    'mkdir -p dist && printf \'demo %s\\n\' "$RCFLOW_VERSION" > "dist/demo-$RCFLOW_PEP440.txt"'
    " && head -c 4096 /dev/urandom > dist/demo.bin"
)
CONFIG = (
    f'[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(BUILD)}\n'
    '[[validate]]\nname = "unit"\nrun = "true"\n'
)
CYCLE = [("bump", "auto"), ("rc",), ("validate",), ("promote",), ("rollback", "--reason", "x")]


def fresh(p: Project, name: str) -> Project:
    """A new `git clone` of p's origin: another laptop, a new CI runner."""
    return fresh_clone(p, p.base / name)


def ok(c: Project, *args: str) -> str:
    result = c.cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def log(c: Project) -> Any:
    return json.loads(ok(c, "log", "--json"))


def downloaded(c: Project, tag: str, scratch: Path) -> dict[str, bytes]:
    """tag's assets as this clone downloads them, each verified against the SHA256SUMS."""
    forge = c.ctx().forge
    scratch.mkdir(parents=True, exist_ok=True)
    forge.download_asset(tag, CHECKSUMS, scratch / CHECKSUMS)
    sums = parse_checksums((scratch / CHECKSUMS).read_text(encoding="utf-8"))
    files = {CHECKSUMS: (scratch / CHECKSUMS).read_bytes()}
    for name, digest in sums.items():
        forge.download_asset(tag, name, scratch / name)
        data = (scratch / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        files[name] = data
    assert sorted(files) == sorted(a.name for a in forge.releases()[tag].assets)
    return files


@pytest.fixture(params=["local", "github"])
def origin_project(
    request: pytest.FixtureRequest, make_project: Any, make_github_project: GitHubProject
) -> Project:
    if request.param == "local":
        p: Project = make_project(config=CONFIG)
        return p
    return on_github(make_github_project)[0]


def on_github(make_github_project: GitHubProject) -> tuple[Project, GitHubServer]:
    """The project on the GitHub test server, with 1.3.0 released there already."""
    p, server = make_github_project(CONFIG)
    server.add_release("v1.3.0", name="1.3.0", body="first release")
    return p, server


# -- handoff ---------------------------------------------------------------------------------


def test_every_step_in_another_fresh_clone(origin_project: Project, tmp_path: Path) -> None:
    p = origin_project
    ran: dict[str, Project] = {}
    for i, args in enumerate(CYCLE):
        c = fresh(p, f"step{i}")
        ok(c, *args)
        ran[args[0]] = c
        witness = fresh(p, f"witness{i}")
        assert witness.status() == c.status(), args
        assert log(witness) == log(c)
        if args[0] != "rollback":  # run again elsewhere: nothing left to do
            again = fresh(p, f"again{i}").cli(*args)
            assert again.exit_code == 0 and "Already done" in again.stdout, (args, again.stdout)
        if args[0] == "rc":
            rc_files = downloaded(witness, RC, tmp_path / "rc")
            assert sorted(rc_files) == [CHECKSUMS, "demo-1.4.0rc1.txt", "demo.bin"]
        if args[0] == "promote":
            assert witness.status()["state"] == "released"
            assert downloaded(witness, FINAL, tmp_path / "final") == rc_files  # the RC's bytes

    status = fresh(p, "after").status()
    assert (status["state"], status["retracted"], status["forge"]["drift"]) == (
        "retracted",
        [FINAL],
        [],
    )
    # The clone that cut the RC sees the retraction too, and may start the next release.
    assert ran["rc"].status()["state"] == "retracted"
    bump = ran["rc"].cli("bump", "patch", "--dry-run")
    assert bump.exit_code == 0, bump.stderr


def test_deleting_the_local_cache_between_steps_changes_nothing(origin_project: Project) -> None:
    p = origin_project
    c = fresh(p, "ci")
    for i, args in enumerate(CYCLE):
        before = c.status()
        shutil.rmtree(c.root / ".git" / "rcflow", ignore_errors=True)
        for ref in c.git("for-each-ref", "--format=%(refname)", "refs/rcflow").splitlines():
            c.git("update-ref", "-d", ref)
        assert c.status() == before, args
        ok(c, *args)
        assert fresh(p, f"witness{i}").status() == c.status(), args
    assert c.status()["state"] == "retracted"


# -- races between clones (real processes) ---------------------------------------------------


def race(clones: list[Project], *argv: str) -> list[tuple[int, str, str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "rcflow", *argv, "-C", str(c.root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for c in clones
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    return [(proc.returncode, out, err) for proc, (out, err) in zip(procs, outputs, strict=True)]


def one_winner(results: list[tuple[int, str, str]]) -> None:
    codes = sorted(code for code, _, _ in results)
    assert all(code in (0, 4) for code in codes), results
    worked = [out for code, out, _ in results if code == 0 and "Already done" not in out]
    assert len(worked) == 1, results
    for code, _, err in results:
        if code == 4:
            assert "lease" in err or "changed" in err, err


def shared(status: dict[str, Any]) -> dict[str, Any]:
    """status --json without what is this clone's own: whether it has an RC tag (a loser never
    made it; a withdrawn one stays in a clone until its `rcflow rollback` deletes it)."""
    for candidate in status["candidates"]:
        candidate.pop("local")
    status["problems"] = [p for p in status["problems"] if "exists here" not in p]
    status["problems"] = [p for p in status["problems"] if "still exists" not in p]
    del status["in_sync"]
    return status


def agree(p: Project, clones: list[Project]) -> dict[str, Any]:
    views = [shared(c.status()) for c in [*clones, fresh(p, "judge")]]
    for v in views:
        assert v == views[-1], [(k, v[k], views[-1][k]) for k in v if v[k] != views[-1][k]]
    return views[-1]


@pytest.mark.parametrize("n", [2, 3])
def test_clones_promoting_at_once_release_once(make_project: Any, n: int) -> None:
    p = make_project(config=CONFIG)
    ok(p, "bump", "auto")
    ok(p, "rc")
    ok(p, "validate")
    clones = [fresh(p, f"c{i}") for i in range(n)]

    results = race(clones, "promote")

    assert not any("no release" in err for _, _, err in results), results
    one_winner(results)
    assert p.kinds().count("promoting") == 1 and p.kinds().count("promoted") == 1
    assert agree(p, clones)["state"] == "released"
    assert p.forge_release(FINAL) is not None and p.forge_latest() == FINAL


def test_two_clones_cutting_the_rc_at_once_cut_one(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    ok(p, "bump", "auto")
    clones = [fresh(p, f"c{i}") for i in range(2)]

    one_winner(race(clones, "rc"))

    assert [t for t in p.remote_tags() if "-rc." in t] == [RC]
    assert p.forge_tags() == ["v1.4.0-rc.1"]
    assert agree(p, clones)["state"] == "candidate"


def test_a_promotion_racing_a_withdrawal_never_releases_a_withdrawn_rc(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    ok(p, "bump", "auto")
    ok(p, "rc")
    ok(p, "validate")
    promoter, roller = fresh(p, "promoter"), fresh(p, "roller")

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "rcflow", *argv, "-C", str(c.root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c, argv in ((promoter, ["promote"]), (roller, ["rollback", RC]))
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    results = [(proc.returncode, out, err) for proc, (out, err) in zip(procs, outputs, strict=True)]

    assert all(code in (0, 3, 4) for code, _, _ in results), results
    withdrawn = "rc_withdrawn" in p.kinds()
    released = FINAL in p.remote_tags()
    assert withdrawn != released, (p.kinds(), results)  # one of them won, never both
    if released:
        assert RC in p.remote_tags() and p.forge_release(RC) is not None
    else:
        assert p.forge_release(FINAL) is None
    status = agree(p, [promoter, roller])
    assert status["state"] == ("released" if released else "bumped")


# -- preconditions before promote's first effect ---------------------------------------------


def validated(p: Project) -> None:
    ok(p, "bump", "auto")
    ok(p, "rc")
    ok(p, "validate")


def refused(p: Project, *messages: str) -> None:
    """promote from a fresh clone: exit 3, the messages, and nothing changed anywhere."""
    c = fresh(p, f"refused{len(list(p.base.iterdir()))}")
    remote, ledger = git(p.origin, "for-each-ref"), p.ledger()
    result = c.cli("promote")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    for message in messages:
        assert message in result.stderr, result.stderr
    assert "nothing was changed" in result.stderr
    assert git(p.origin, "for-each-ref") == remote  # no final tag, no forge or ledger write
    assert p.ledger() == ledger


def rc_record(p: Project) -> dict[str, Any]:
    record = p.forge_release(RC)
    assert record is not None
    return record


def digest_of(p: Project, name: str) -> str:
    return str(next(a["sha256"] for a in rc_record(p)["assets"] if a["name"] == name))


def test_promote_refuses_an_rc_whose_release_is_gone_and_rc_finishes_it(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    validated(p)
    p.tamper_forge(f"releases/{RC}.json", None)

    refused(p, f"has no release {RC}", "run `rcflow rc` to finish it")

    c = fresh(p, "fixer")
    ok(c, "rc")  # the fix the message names: publishes the RC's release again
    ok(c, "promote")
    assert p.forge_latest() == FINAL


def test_promote_refuses_an_unfinished_rc_release(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    validated(p)
    record = rc_record(p)
    record["draft"] = True
    p.tamper_forge(f"releases/{RC}.json", json.dumps(record).encode())

    refused(p, f"has only a draft of {RC}", "run `rcflow rc` to finish it")


def test_promote_refuses_when_an_asset_of_the_sums_is_gone(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    validated(p)
    p.tamper_forge(f"assets/sha256/{digest_of(p, 'demo.bin')}", None)

    refused(p, "does not hold what its SHA256SUMS lists: demo.bin (missing)", "rollback v1.4.0")

    # The fix it names: withdraw the RC, cut a new one, validate and promote it.
    c = fresh(p, "fixer")
    ok(c, "rollback", RC)
    ok(c, "rc")
    ok(c, "validate")
    ok(c, "promote")
    assert c.status()["state"] == "released"
    assert p.remote_tags()[FINAL] == p.remote_tags()["v1.4.0-rc.2"]


def test_promote_refuses_sums_whose_bytes_changed(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    validated(p)
    sums = p.forge_asset(RC, CHECKSUMS)
    assert sums is not None
    forged = bytes(b ^ 1 if i == 0 else b for i, b in enumerate(sums))  # same size
    p.tamper_forge(f"assets/sha256/{digest_of(p, CHECKSUMS)}", forged)

    refused(p, "forge.rc-", "SHA256SUMS")


def test_promote_refuses_on_github_when_the_rc_release_was_deleted(
    make_github_project: GitHubProject,
) -> None:
    p, server = on_github(make_github_project)
    validated(p)
    rel = server.release_by_tag(RC)
    assert rel is not None
    del server.releases[rel.id]

    refused(p, f"has no release {RC}")
    assert server.release_by_tag(FINAL) is None


def test_promote_refuses_on_github_when_an_rc_asset_was_deleted(
    make_github_project: GitHubProject,
) -> None:
    p, server = on_github(make_github_project)
    validated(p)
    rel = server.release_by_tag(RC)
    assert rel is not None
    rel.assets = [a for a in rel.assets if a.name != "demo.bin"]

    refused(p, "demo.bin (missing)")
    assert server.release_by_tag(FINAL) is None


# -- the size policy of the local forge ------------------------------------------------------


def test_assets_git_cannot_carry_refuse_the_rc_before_its_tag(
    make_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real limits (100 MiB, 50 MiB) are tested in tests/adapters/test_local_forge.py; here
    # small ones keep the build small.
    monkeypatch.setattr("rcflow.ports.forge.GIT_ASSET_LIMIT", 3000)
    monkeypatch.setattr("rcflow.ports.forge.GIT_ASSET_WARNING", 1000)
    p = make_project(config=CONFIG)  # demo.bin is 4096 bytes
    ok(p, "bump", "auto")
    tags, forge, kinds = p.remote_tags(), p.forge_files(), p.kinds()

    result = p.cli("rc")

    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "too large for the local forge" in result.stderr
    assert "demo.bin is 0.0 MiB, above the 0.0 MiB a git host accepts" in result.stderr
    assert 'forge = "github"' in result.stderr
    assert "nothing was tagged or uploaded" in result.stderr
    assert (p.remote_tags(), p.local_tags().get(RC), p.forge_files(), p.kinds()) == (
        tags,
        None,
        forge,
        kinds,
    )

    monkeypatch.setattr("rcflow.ports.forge.GIT_ASSET_LIMIT", 5000)
    result = p.cli("rc")
    assert result.exit_code == 0, result.stderr
    assert "warning: demo.bin is 0.0 MiB" in result.stdout + result.stderr
    assert p.forge_asset(RC, "demo.bin") is not None


# -- a tag prefix with a slash ---------------------------------------------------------------


def test_a_slashed_tag_prefix_releases_from_fresh_clones(make_project: Any, tmp_path: Path) -> None:
    p = make_project(tag=False, config='tag_prefix = "pkg/v"\n' + CONFIG)
    p.git("tag", "-a", "pkg/v1.3.0", "-m", "Release 1.3.0", "HEAD~1")
    p.git("push", "--quiet", "origin", "pkg/v1.3.0")
    for i, args in enumerate(CYCLE):
        c = fresh(p, f"step{i}")
        ok(c, *args)
        assert fresh(p, f"witness{i}").status() == c.status(), args
        if args[0] == "promote":
            rc = downloaded(c, "pkg/v1.4.0-rc.1", tmp_path / "rc")
            assert downloaded(fresh(p, "dl"), "pkg/v1.4.0", tmp_path / "final") == rc
    assert p.forge_tags() == ["pkg/v1.4.0", "pkg/v1.4.0-rc.1"]
    assert p.forge_release("pkg/v1.4.0")["retracted"] is True  # type: ignore[index]
    assert fresh(p, "last").status()["state"] == "retracted"


# -- records an older rcflow kept in one clone -----------------------------------------------


def test_a_legacy_forge_is_imported_by_the_clone_that_has_it(make_project: Any) -> None:
    p = make_project(config=CONFIG)
    validated(p)
    # Turn the store back into what rcflow before the shared forge left in p's git dir.
    legacy = p.root / ".git" / "rcflow" / "forge"
    files = p.forge_files()
    for path, data in files.items():
        if path.startswith("releases/"):
            record = json.loads(data)
            (legacy / path).parent.mkdir(parents=True, exist_ok=True)
            (legacy / path).write_bytes(data)
            for asset in record["assets"]:
                target = legacy / "assets" / record["tag"] / asset["name"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(files[f"assets/sha256/{asset['sha256']}"])
    git(p.origin, "update-ref", "-d", "refs/rcflow/forge")
    p.git("update-ref", "-d", "refs/rcflow/forge")
    assert p.status()["state"] == "validated"

    # Another clone cannot see that release: it refuses, and pushes no final tag.
    refused(p, f"has no release {RC}")

    ok(p, "promote")  # the clone that has the records imports them on its first write
    assert p.forge_tags() == [FINAL, RC]
    witness = fresh(p, "witness")
    assert witness.status() == p.status()
    assert witness.status()["state"] == "released"
    assert not legacy.exists()


# -- a forge write that loses the compare-and-swap -------------------------------------------


def test_a_forge_write_that_loses_the_race_is_a_conflict_then_converges(
    make_project: Any,
) -> None:
    from rcflow.errors import ConflictError
    from rcflow.steps.promote import PromoteArgs

    p = make_project(config=CONFIG)
    validated(p)
    ctx = p.ctx()
    create = ctx.forge.create_release

    def someone_writes_first(*args: Any, **kw: Any) -> Any:
        p.tamper_forge("notes.txt", b"a hand edit of the forge, made meanwhile\n")
        return create(*args, **kw)

    ctx.forge.create_release = someone_writes_first  # type: ignore[method-assign]
    forge_before = p.forge_files()
    # The forge's commit travels in the final tag's atomic push: refused whole.
    with pytest.raises(ConflictError, match="rejected refs/rcflow/forge"):
        p.step("promote", PromoteArgs(), ctx=ctx)
    assert FINAL not in p.remote_tags()
    assert p.forge_release(FINAL) is None  # nothing of this write reached origin
    assert set(p.forge_files()) == {*forge_before, "notes.txt"}

    again = fresh(p, "again")
    ok(again, "promote")  # reads the forge again and finishes
    assert again.status()["state"] == "released"
    assert p.forge_files()["notes.txt"]  # the other writer's change is kept
