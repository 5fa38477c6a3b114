"""The pre-release ladder on the GitHub forge, as issue 15's "Done when" walks it.

`stages = ["beta", "rc"]` with a soak on beta: `rc --stage beta` → validate → promote to rc
refused until the soak has passed → promote to rc (same commit, same asset bytes, no build) →
validate, where a deployment to staging gates the rc → promote to the final, whose tag and
assets are the beta's. Git is real; GitHub is the test server (OpenAPI-validated), whose
deployments another tool would post in life. The soak clock is injected (observe's `time`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ghserver import GitHubServer

from tests.steps.test_validate_github import FakeTime, fake_time  # noqa: F401 - a fixture
from tests.support.on_github import GitHubProject
from tests.support.project import Project, fresh_clone

# A build that is not reproducible: only carrying the beta's bytes up gives later stages the same.
BUILD = (
    'mkdir -p dist && head -c 4096 /dev/urandom > dist/app.bin && echo "$RCFLOW_PEP440" > dist/v'
)
CONFIG = (
    'stages = ["beta", "rc"]\n'
    f'[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(BUILD)}\n'
    '[stage.beta]\nsoak = "48h"\n'
    '[[validate]]\nname = "unit"\nrun = "true"\n'
    '[[validate]]\nname = "staging"\ndeployment = "staging"\nstages = ["rc"]\ntimeout = "10m"\n'
)


class Clock:
    """The clock observe reads (`Snapshot.now`), moved by the test: no waiting, no timing."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def ok(p: Project, *args: str) -> str:
    result = p.cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout + result.stderr


def refused(p: Project, args: tuple[str, ...], why: str) -> None:
    world, ledger = p.world(), p.ledger()
    result = p.cli(*args)
    assert result.exit_code == 3, (args, result.stdout, result.stderr)
    assert why in result.stderr, result.stderr
    assert p.world() == world and p.ledger() == ledger  # a refusal changes nothing


def assets(server: GitHubServer, tag: str) -> dict[str, bytes]:
    found = server.release_by_tag(tag)
    assert found is not None, f"no release {tag} on the server"
    return {a.name: a.data for a in found.assets}


def test_beta_soaks_then_climbs_to_the_final_gated_by_a_deployment(
    make_github_project: GitHubProject,
    fake_time: FakeTime,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import rcflow.engine.observe as observe

    clock = Clock()
    monkeypatch.setattr(observe, "time", clock)
    p, server = make_github_project(CONFIG)
    server.add_release("v1.3.0", name="1.3.0", body="first release")

    ok(p, "bump", "minor")
    ok(p, "rc", "--stage", "beta")
    beta_sha = p.remote_tags()["v1.4.0-beta.1"]
    beta = assets(server, "v1.4.0-beta.1")
    assert sorted(beta) == ["SHA256SUMS", "app.bin", "v"]
    assert beta["v"] == b"1.4.0b1\n"
    assert server.release_by_tag("v1.4.0-beta.1").prerelease  # type: ignore[union-attr]

    refused(p, ("promote", "--to", "rc"), "v1.4.0-beta.1 has not passed validation")
    ok(p, "validate")  # staging applies to rc only: beta needs unit alone
    refused(p, ("promote", "--to", "rc"), "v1.4.0-beta.1 is soaking at beta: ")
    assert 0 < p.status()["stages"][0]["tags"][0]["soak_left"] <= 48 * 3600
    clock.offset = 48 * 3600.0 + 60

    ok(p, "promote", "--to", "rc")
    assert "Already done" in ok(p, "promote", "--to", "rc")
    assert p.remote_tags()["v1.4.0-rc.1"] == beta_sha
    assert assets(server, "v1.4.0-rc.1") == beta  # byte for byte: no rebuild

    # The rc's own gate: staging has not seen this commit deployed yet.
    refused(p, ("promote",), "v1.4.0-rc.1 has not passed validation")
    server.add_deployment(beta_sha, "staging", states=["in_progress", "success"])
    ok(p, "validate")
    passed = [e for e in p.ledger() if e["kind"] == "validation_passed"]
    staging = next(e for e in passed if e["data"].get("kind") == "deployment")
    assert staging["data"]["environment"] == "staging"
    assert staging["data"]["sha"] == beta_sha

    # From another machine, as a CI runner would: the same state, and it finishes the release.
    runner = fresh_clone(p, tmp_path / "runner")
    assert runner.status()["stage"] == "rc"
    assert runner.status()["state"] == "validated"
    ok(runner, "promote")
    assert "Already done" in ok(p, "promote")
    assert p.remote_tags()["v1.4.0"] == beta_sha
    assert assets(server, "v1.4.0") == beta
    final = server.release_by_tag("v1.4.0")
    assert final is not None and not final.prerelease
    assert server.refused == []


# -- each climb interrupted after every write, resumed here or on another machine ---------------

PLAIN = CONFIG.replace('[stage.beta]\nsoak = "48h"\n', "").replace(
    '[[validate]]\nname = "staging"\ndeployment = "staging"\nstages = ["rc"]\ntimeout = "10m"\n', ""
)


def _state(server: GitHubServer) -> dict[str, object]:
    """The releases as GitHub holds them, comparable between two servers (bodies name commits)."""
    return {
        r.tag_name: (r.draft, r.prerelease, sorted(a.name for a in r.assets))
        for r in server.releases.values()
    }


@pytest.mark.parametrize(
    ("before", "argv", "tag"),
    [
        ((("bump", "minor"),), ("rc", "--stage", "beta"), "v1.4.0-beta.1"),
        ((("bump", "minor"), ("rc",), ("validate",)), ("promote", "--to", "rc"), "v1.4.0-rc.1"),
        (
            (("bump", "minor"), ("rc",), ("validate",), ("promote", "--to", "rc")),
            ("promote",),
            "v1.4.0",
        ),
    ],
    ids=["beta", "beta-to-rc", "rc-to-final"],
)
def test_each_climb_on_github_resumes_after_a_crash(
    make_github_project: GitHubProject,
    before: tuple[tuple[str, ...], ...],
    argv: tuple[str, ...],
    tag: str,
) -> None:
    from rcflow.steps.promote import PromoteArgs
    from rcflow.steps.rc import RcArgs
    from tests.support.crash import Attempt, crash_each_write

    servers: dict[str, GitHubServer] = {}

    def start(name: str) -> Project:
        p, server = make_github_project(PLAIN)
        server.add_release("v1.3.0", name="1.3.0", body="first release")
        servers[name] = server
        for words in before:
            ok(p, *words)
        return p

    twin = start("twin")
    ok(twin, *argv)
    expected, expected_kinds = _state(servers["twin"]), twin.kinds()
    step = argv[0]
    args = (
        RcArgs(stage="beta")
        if step == "rc"
        else PromoteArgs(to="rc")
        if "--to" in argv
        else PromoteArgs()
    )

    def resume(crash: Attempt) -> None:
        p, server = crash.project, servers[f"k{crash.k}"]
        # Odd crashes are finished by another machine: a fresh clone of the origin.
        runner = crash.fresh_clone() if crash.k % 2 else p
        rerun = runner.cli(*argv)
        assert rerun.exit_code == 0, (crash.where, rerun.stdout, rerun.stderr)
        assert _state(server) == expected, crash.where
        assert p.kinds() == expected_kinds, crash.where
        again = runner.cli(*argv)
        assert again.exit_code == 0 and "Already done" in again.stdout, (crash.where, again)
        if tag != "v1.4.0-beta.1":
            # Carried up, never rebuilt: the same bytes as the beta's.
            assert assets(server, tag) == assets(server, "v1.4.0-beta.1"), crash.where
        assert server.refused == []

    crashed = crash_each_write(start, step, args, resume, limit=40)
    assert {"create_tag", "push", "create_release", "publish_release"} <= set(crashed), crashed
