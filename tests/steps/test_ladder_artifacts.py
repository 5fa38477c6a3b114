"""The ladder with an image and a package on the real registry and index (issue 15): beta is
built once; rc and the final carry its asset bytes, its image digest and its dists."""

from __future__ import annotations

from typing import Any

from tests.steps.test_artifacts import (  # noqa: F401 - the fixtures, imported to be used here
    OCI_INDEX,
    World,
    pypi,
    registry,
    servers_dir,
    tokens,
    world,
)
from tests.support.ledger import events
from tests.support.project import Project

BETA, RC, FINAL = "v1.4.0-beta.1", "v1.4.0-rc.1", "v1.4.0"


def ok(p: Project, *args: str) -> str:
    result = p.cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_beta_rc_final_carry_the_betas_image_digest_and_dists(
    make_project: Any,
    world: World,  # noqa: F811 - the fixture imported above
) -> None:
    p = make_project(config='stages = ["beta", "rc"]\n' + world.config())
    ok(p, "bump", "minor")
    pushed = world.admin.index(world.repo, BETA)
    ok(p, "rc", "--stage", "beta")
    ok(p, "validate")
    sums = p.forge_asset(BETA, "SHA256SUMS")
    ok(p, "promote", "--to", "rc")
    # The rc's image tag is the beta's digest, byte for byte; latest has not moved.
    assert world.manifest(RC) == (pushed.digest, OCI_INDEX, pushed.raw)
    assert world.digest("latest") is None
    assert p.forge_asset(RC, "SHA256SUMS") == sums
    assert world.index_files() == {}  # publish_rc is off: no pre-release dists
    assert [e["key"] for e in events(p, "image_promoted")] == [f"{RC}/{world.image}"]
    puts = world.puts()
    assert "Already done" in ok(p, "promote", "--to", "rc")
    assert world.puts() == puts

    ok(p, "promote")
    for tag in (FINAL, "latest"):
        assert world.manifest(tag) == (pushed.digest, OCI_INDEX, pushed.raw)
    assert p.forge_asset(FINAL, "SHA256SUMS") == sums
    text = (sums or b"").decode()
    dists = {
        line.split()[1]: line.split()[0]
        for line in text.splitlines()
        if line.split()[1].endswith((".whl", ".tar.gz"))
    }
    assert dists and world.index_files() == dists
    assert p.remote_tags()[FINAL] == p.remote_tags()[BETA] == p.remote_tags()[RC]
