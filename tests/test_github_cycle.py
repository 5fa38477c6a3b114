"""The release lifecycle on the GitHub forge, against the GitHub test server.

Git is real (a bare origin on disk, which the server reads its tags from); GitHub is the test
server, which validates every request and response against GitHub's OpenAPI description.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ghserver import GitHubServer

from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from tests.support.crash import Attempt, Crash, crash_each_write
from tests.support.on_github import GitHubProject
from tests.support.project import Project, git
from tests.support.scenario import at

RC, FINAL = "v1.4.0-rc.1", "v1.4.0"
WRITES = r"^(POST|PATCH|DELETE)$"
# A build that is not reproducible: only carrying the RC's bytes over gives the final the same.
BUILD = (
    'mkdir -p dist && printf \'demo %s\\n\' "$RCFLOW_VERSION" > "dist/demo-$RCFLOW_PEP440.txt"'
    " && head -c 2048 /dev/urandom > dist/demo.bin"
)


CONFIG = (
    f'[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(BUILD)}\n'
    '[[validate]]\nname = "unit"\nrun = "true"\n'
)

Make = Callable[..., tuple[Project, GitHubServer]]


@pytest.fixture
def make_gh(make_github_project: GitHubProject) -> Make:
    """A project on the GitHub test server, with 1.3.0 released there already."""

    def make(extra: str = "", *, immutable: bool = True) -> tuple[Project, GitHubServer]:
        p, server = make_github_project(CONFIG + extra)
        server.immutable_releases = immutable
        server.add_release("v1.3.0", name="1.3.0", body="first release")
        return p, server

    return make


def writes(server: GitHubServer) -> int:
    return sum(1 for r in server.requests if re.match(WRITES, r.method))


def release(server: GitHubServer, tag: str) -> Any:
    found = server.release_by_tag(tag)
    assert found is not None, f"no release {tag} on the server"
    return found


def assets(server: GitHubServer, tag: str) -> dict[str, bytes]:
    return {a.name: a.data for a in release(server, tag).assets}


def latest(p: Project) -> str | None:
    forge = p.ctx().forge
    return next((t for t, r in forge.releases().items() if r.latest), None)


def validated(p: Project) -> None:
    at(p, "validated")


# -- the whole cycle -------------------------------------------------------------------------


def test_full_cycle_publishes_rc_then_final_with_the_same_bytes(make_gh: Make) -> None:
    p, server = make_gh()

    assert p.cli("bump", "auto").exit_code == 0
    rc = p.cli("rc")
    assert rc.exit_code == 0, rc.stderr

    pre = release(server, RC)
    assert (pre.draft, pre.prerelease, pre.name) == (False, True, "1.4.0-rc.1")
    assert "### Added" in (pre.body or "") and "add a feature" in (pre.body or "")
    rc_assets = assets(server, RC)
    assert sorted(rc_assets) == ["SHA256SUMS", "demo-1.4.0rc1.txt", "demo.bin"]
    assert rc_assets["demo-1.4.0rc1.txt"] == b"demo 1.4.0-rc.1\n"
    sums = rc_assets["SHA256SUMS"].decode()
    for name in ("demo-1.4.0rc1.txt", "demo.bin"):
        assert f"{hashlib.sha256(rc_assets[name]).hexdigest()}  {name}\n" in sums
    assert latest(p) == "v1.3.0"  # an RC never takes latest

    refused = p.cli("promote")
    assert refused.exit_code == 3 and "has not passed validation" in refused.stderr
    assert p.cli("validate").exit_code == 0
    promoted = p.cli("promote")
    assert promoted.exit_code == 0, promoted.stderr

    final = release(server, FINAL)
    assert (final.draft, final.prerelease, final.name, final.immutable) == (
        False,
        False,
        "1.4.0",
        True,
    )
    assert f"Promoted from {RC}" in (final.body or "")
    assert assets(server, FINAL) == rc_assets  # byte for byte, though the build is random
    assert latest(p) == FINAL
    assert server.tag_commit(FINAL) == server.tag_commit(RC) == p.remote_tags()[FINAL]
    assert server.refused == []  # nothing was ever added to a published (immutable) release

    before = writes(server)
    for args in (("bump", "auto"), ("rc",), ("validate",), ("promote",)):
        again = p.cli(*args)
        assert again.exit_code == 0, (args, again.stderr)
        assert "Already done" in again.stdout, (args, again.stdout)
    assert writes(server) == before  # re-runs change nothing on GitHub

    status = p.status()
    assert status["forge"]["name"] == "github"
    assert status["forge"]["release"]["latest"] is True
    assert status["forge"]["release"]["assets"] == ["SHA256SUMS", "demo-1.4.0rc1.txt", "demo.bin"]
    assert status["forge"]["drift"] == []
    human = p.cli("status").stdout
    assert "Forge:        github (v1.4.0: release, latest, 3 asset(s))" in human


def test_a_cycle_without_assets_makes_plain_releases(make_gh: Make) -> None:
    p, server = make_gh()
    p.write("rcflow.toml", re.sub(r"\[assets\]\n.*\n.*\n", "", p.read("rcflow.toml")))
    p.commit("chore: no assets")
    p.push()
    validated(p)
    assert p.step("promote", PromoteArgs()).status == "applied"
    assert assets(server, RC) == {} and assets(server, FINAL) == {}
    assert latest(p) == FINAL


# -- crashes ---------------------------------------------------------------------------------


def _github_state(server: GitHubServer) -> dict[str, Any]:
    """The releases as GitHub holds them, comparable between two servers (random build aside)."""
    state = {}
    for r in server.releases.values():
        state[r.tag_name] = (
            r.name,
            r.body,
            r.draft,
            r.prerelease,
            sorted(a.name for a in r.assets),
        )
    return state


@pytest.mark.parametrize("step", ["rc", "promote"])
def test_crash_at_every_write_then_resume_matches_an_uninterrupted_run(
    make_gh: Make, step: str
) -> None:
    twin, twin_server = make_gh()
    if step == "rc":
        at(twin, "bumped")
    else:
        validated(twin)
    assert twin.step(step, RcArgs() if step == "rc" else PromoteArgs()).status == "applied"
    expected = _github_state(twin_server)
    expected_kinds = twin.kinds()

    servers: dict[str, GitHubServer] = {}

    def start(name: str) -> Project:
        p, server = make_gh()
        servers[name] = server
        if step == "rc":
            at(p, "bumped")
        else:
            validated(p)
        return p

    def resume(crash: Attempt) -> None:
        p, server = crash.project, servers[f"k{crash.k}"]
        rerun = p.cli(step)

        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        # The twin's bodies name its own commits; compare everything else exactly.
        got = _github_state(server)
        assert {t: v[2:] for t, v in got.items()} == {t: v[2:] for t, v in expected.items()}
        assert p.kinds() == expected_kinds, crash.where
        assert server.refused == []
        if step == "promote":
            assert assets(server, FINAL) == assets(server, RC)

    crashed = crash_each_write(
        start, step, RcArgs() if step == "rc" else PromoteArgs(), resume, limit=40
    )
    # promote streams the RC's bytes into the final's upload: one write, copy_asset
    carried = "upload_asset" if step == "rc" else "copy_asset"
    forge_writes = {"create_release", carried, "publish_release"}
    assert forge_writes <= set(crashed), crashed


# -- a GitHub that fails ---------------------------------------------------------------------


def test_transient_failures_and_rate_limits_are_retried(make_gh: Make) -> None:
    p, server = make_gh()
    validated(p)
    server.fail_server_error("POST", r"/releases$", times=2)
    server.fail_secondary_rate_limit("PATCH", r"/releases/\d+$", retry_after=1)
    server.drop_connection("POST", r"/api/uploads/")
    server.fail_rate_limit("GET", r"/releases/assets/\d+$", reset_in=1)
    ctx = p.ctx()
    waits: list[float] = []
    ctx.forge.sleep = waits.append  # type: ignore[attr-defined]

    result = p.step("promote", PromoteArgs(), ctx=ctx)

    assert result.status == "applied"
    assert len(waits) == 5
    assert 1.0 in waits  # the Retry-After
    assert assets(server, FINAL) == assets(server, RC)
    assert sum(1 for r in server.releases.values() if r.tag_name == FINAL) == 1
    assert latest(p) == FINAL


def test_a_bad_token_refuses_before_anything_changes(
    make_gh: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, server = make_gh()
    assert p.cli("bump", "auto").exit_code == 0
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not-the-token-123")
    world, ledger, count = p.world(), p.ledger(), writes(server)

    result = p.cli("rc")

    assert result.exit_code == 3, result.stderr
    assert "rc refused: the github forge cannot be read: nothing was changed" in result.stderr
    assert "GitHub refused the token while listing releases (401 Bad credentials)" in result.stderr
    assert "ghp_not-the-token" not in result.stderr + result.stdout
    assert (p.world(), p.ledger(), writes(server)) == (world, ledger, count)
    status = p.cli("status")
    assert status.exit_code == 0
    assert "Forge:        github (cannot be read: GitHub refused the token" in status.stdout


def test_a_token_without_contents_write_is_refused_before_the_tag(make_gh: Make) -> None:
    p, server = make_gh()
    assert p.cli("bump", "auto").exit_code == 0
    server.token_permissions["contents"] = "read"
    result = p.cli("rc")
    assert result.exit_code == 3, result.stderr
    assert "github.token-cannot-push: the token cannot write to acme/app" in result.stderr
    assert RC not in p.remote_tags()


def test_a_permission_refused_midway_stops_with_the_fix_and_resumes(make_gh: Make) -> None:
    p, server = make_gh()
    assert p.cli("bump", "auto").exit_code == 0
    server.fail(
        "POST",
        r"/releases$",
        403,
        headers={"x-accepted-github-permissions": "contents=write"},
        body={
            "message": "Resource not accessible by integration",
            "documentation_url": "https://docs.github.com/rest",
        },
    )

    result = p.cli("rc")

    assert result.exit_code == 1
    assert "GitHub denied creating the release v1.4.0-rc.1 (403" in result.stderr
    assert "the token needs contents: write" in result.stderr
    assert "resume with: rcflow rc" in result.stderr
    assert RC in p.remote_tags()  # the tag went out before the release failed
    assert p.status()["forge"]["drift"] == [
        f"tag {RC} has no release on github: `rcflow rc` publishes it"
    ]

    assert p.cli("rc").exit_code == 0
    assert sorted(assets(server, RC)) == ["SHA256SUMS", "demo-1.4.0rc1.txt", "demo.bin"]
    status = p.status()
    assert status["state"] == "candidate" and status["forge"]["drift"] == []


# -- rollback --------------------------------------------------------------------------------


def test_retract_a_release_makes_the_previous_latest_and_keeps_numbers(make_gh: Make) -> None:
    p, server = make_gh(immutable=False)  # with immutable releases the tag could not be deleted
    validated(p)
    assert p.cli("promote").exit_code == 0
    assert latest(p) == FINAL

    result = p.cli("rollback", "--reason", "broken wheel", "--delete-tag")

    assert result.exit_code == 0, result.stderr
    retracted = release(server, FINAL)
    assert retracted.prerelease and not retracted.draft
    assert (retracted.body or "").startswith("<!-- rcflow:retracted -->\n> [!WARNING]\n> Retracted")
    assert latest(p) == "v1.3.0"
    assert FINAL not in p.remote_tags() and FINAL not in p.local_tags()
    status = p.status()
    assert status["state"] == "retracted" and status["forge"]["drift"] == []
    again = p.cli("rollback", FINAL)
    assert again.exit_code == 0 and "already rolled back" in again.stdout
    # The version stays used: the next bump goes past it, not back to it.
    plan = p.cli("bump", "minor", "--dry-run", "--json")
    assert plan.json()["plan"]["version"] == "1.5.0"


def test_withdraw_an_rc_deletes_its_prerelease(make_gh: Make) -> None:
    p, server = make_gh()
    validated(p)
    result = p.cli("rollback", "--reason", "bad build")
    assert result.exit_code == 0, result.stderr
    assert server.release_by_tag(RC) is None
    assert RC not in p.remote_tags()


# -- hooks -----------------------------------------------------------------------------------


def test_hooks_run_once_and_a_failed_hook_is_resumed(make_gh: Make, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    flag = tmp_path / "hook-may-succeed"
    hooks = (
        "[hooks]\n"
        f'after_promote = \'test -e "{flag}" && echo "promoted $RCFLOW_TAG $RCFLOW_PEP440 '
        f'from $RCFLOW_RC_TAG" >> "{log}"\'\n'
        f'after_rollback = \'echo "rolled back $RCFLOW_TAG to $RCFLOW_PREVIOUS_TAG" >> "{log}"\'\n'
    )
    p, _server = make_gh(hooks)
    validated(p)

    failed = p.cli("promote")
    assert failed.exit_code == 1
    assert "the after_promote hook failed (exit 1)" in failed.stderr
    assert p.status()["state"] == "released"  # the release itself is done
    assert not log.exists()

    flag.touch()
    assert p.cli("promote").exit_code == 0
    assert p.cli("promote").exit_code == 0
    assert log.read_text() == f"promoted {FINAL} 1.4.0 from {RC}\n"  # once

    assert p.cli("rollback").exit_code == 0
    assert p.cli("rollback", FINAL).exit_code == 0
    assert log.read_text().splitlines()[1:] == [f"rolled back {FINAL} to v1.3.0"]
    kinds = [(e["kind"], e["key"]) for e in p.ledger() if e["kind"].startswith("hook_")]
    assert kinds == [
        ("hook_failed", f"{FINAL}/after_promote"),
        ("hook_succeeded", f"{FINAL}/after_promote"),
        ("hook_succeeded", f"{FINAL}/after_rollback"),
    ]


def test_rehearsal_never_touches_github_nor_runs_hooks(make_gh: Make, tmp_path: Path) -> None:
    marker = tmp_path / "hook-ran"
    p, server = make_gh(f"[hooks]\nafter_promote = 'touch \"{marker}\"'\n")
    before = len(server.requests)
    result = p.cli("rehearse")
    assert result.exit_code == 0, result.stderr
    assert len(server.requests) == before
    assert not marker.exists()


# -- drift -----------------------------------------------------------------------------------


def test_status_flags_drift_between_tags_and_releases(make_gh: Make) -> None:
    p, server = make_gh()
    validated(p)
    assert p.status()["forge"]["drift"] == []

    git(p.origin, "tag", "-d", RC)  # the RC's release is left without its tag
    server.add_release("v1.5.0", draft=True)  # a draft someone's run left behind

    drift = p.status()["forge"]["drift"]

    assert drift == [
        f"release {RC} on github has no tag {RC} on origin",
        "a draft release v1.5.0 was left behind on github: re-run the step that made it, "
        "or delete the draft",
    ]
    server.releases.pop(release(server, RC).id)
    git(p.root, "push", "--quiet", "origin", f"refs/tags/{RC}")
    drift = p.status()["forge"]["drift"]
    assert drift[0] == f"tag {RC} has no release on github: `rcflow rc` publishes it"
    human = p.cli("status").stdout
    assert f"! tag {RC} has no release on github" in human


# -- GitHub Actions --------------------------------------------------------------------------


def test_tokens_are_masked_first_in_github_actions(
    make_gh: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, server = make_gh()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GH_TOKEN", "ghp_second-token")
    result = p.run("status", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(
        f"::add-mask::{server.token}\n::add-mask::ghp_second-token\n"
    ), result.stderr


def test_an_rc_resumed_on_another_machine_replaces_its_drafts_half_upload(make_gh: Make) -> None:
    p, server = make_gh()
    assert p.cli("bump", "auto").exit_code == 0
    ctx = p.ctx()
    upload = ctx.forge.upload_asset
    calls: list[str] = []

    def dies_before_the_sums(tag: str, path: Path, name: str, **kw: Any) -> None:
        calls.append(name)
        if name == "SHA256SUMS":
            raise Crash("the runner was lost")
        upload(tag, path, name, **kw)

    ctx.forge.upload_asset = dies_before_the_sums  # type: ignore[method-assign]
    with pytest.raises(Crash):
        p.step("rc", RcArgs(), ctx=ctx)
    first = assets(server, RC)
    assert sorted(first) == ["demo-1.4.0rc1.txt", "demo.bin"] and release(server, RC).draft
    shutil.rmtree(p.root / ".git" / "rcflow" / "assets")  # the next job runs on a fresh runner

    result = p.cli("rc")

    assert result.exit_code == 0, result.stderr
    published = assets(server, RC)
    assert not release(server, RC).draft
    sums = dict(
        (name, digest)
        for digest, name in (
            line.split("  ") for line in published["SHA256SUMS"].decode().splitlines()
        )
    )
    assert sorted(sums) == ["demo-1.4.0rc1.txt", "demo.bin"]
    for name, digest in sums.items():
        assert hashlib.sha256(published[name]).hexdigest() == digest  # one build, consistent
    assert published["demo.bin"] != first["demo.bin"]  # the first build's half was replaced
    assert published["demo-1.4.0rc1.txt"] == first["demo-1.4.0rc1.txt"]  # same bytes: kept
    assert p.cli("rc").exit_code == 0 and assets(server, RC) == published
