"""`[python_package] trusted_publishing = true` through promote: the preflight proves the OIDC
exchange before the final tag is pushed, the dists go to the real pypiserver behind the PyPI
front with no password anywhere, and an interrupted publication is finished by a re-run."""

from __future__ import annotations

import json
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest
from realservers.oidc import IndexFront, OidcIssuer, Publisher
from realservers.pypi import PypiServer

from rcflow.adapters.pyindex import PackageIndex, PackageIndexError
from tests.support.project import Project, copy_project
from tests.support.scenario import at

RC, FINAL = "v1.4.0-rc.1", "v1.4.0"
# The index user the conftest's `pypi` and `front` fixtures serve this module with.
USER, PASSWORD = "pypiserver-user", "only-the-front-knows-" + secrets.token_hex(4)
BUILD = Path(__file__).with_name("artifact_build.py")


@pytest.fixture
def project_name(request: pytest.FixtureRequest) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:24]
    return f"tp-{words}-{secrets.token_hex(3)}"


def config(front: IndexFront, project: str) -> str:
    command = f"{sys.executable} {BUILD} {project} final"
    return (
        f'[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(command)}\n'
        f'[python_package]\nupload_url = "{front.url}"\nsimple_url = "{front.simple_url}"\n'
        "trusted_publishing = true\n"
        '[[validate]]\nname = "unit"\nrun = "true"\n'
    )


def in_job(monkeypatch: pytest.MonkeyPatch, issuer: OidcIssuer | None) -> None:
    for key in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (issuer.env() if issuer else {}).items():
        monkeypatch.setenv(key, value)


def cut_rc(p: Project) -> None:
    at(p, "validated")


def uploads(pypi: PypiServer, project: str) -> list[str]:
    prefix = project.replace("-", "_") + "-"
    return [n for n in pypi.stored() if n.startswith(prefix)]


def test_promote_publishes_through_the_exchange_and_a_rerun_changes_nothing(
    make_project: Any,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    project_name: str,
) -> None:
    in_job(monkeypatch, issuer)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # so the tokens are masked in the log
    p = make_project(config=config(front, project_name))
    cut_rc(p)

    result = p.cli("promote")

    assert result.exit_code == 0, result.stderr
    assert f"of {RC} to 127.0.0.1:{front.base.rsplit(':', 1)[1]} through trusted publishing" in (
        result.stdout
    )
    assert len(uploads(pypi, project_name)) == 2
    assert len(front.minted) == 2  # one exchange proves the rights, one uploads
    for token in (issuer.request_token, *issuer.issued, *front.minted):
        assert f"::add-mask::{token}" in result.stderr
        assert token not in result.stdout
    (published,) = [e for e in p.ledger() if e["kind"] == "package_published"]
    assert sorted(published["data"]["uploaded"]) == sorted(uploads(pypi, project_name))
    assert not any(token in json.dumps(p.ledger()) for token in front.minted)

    minted = dict(front.minted)
    again = p.cli("promote")
    assert again.exit_code == 0, again.stderr
    assert "Already done" in again.stdout
    assert front.minted == minted  # done: no exchange, no upload
    assert len(uploads(pypi, project_name)) == 2


@pytest.mark.parametrize(
    ("publisher", "claim"),
    [
        (Publisher(repository="acme/elsewhere"), "repository"),
        (Publisher(workflow="publish.yml"), "job_workflow_ref"),
        (Publisher(environment="release"), "environment"),
    ],
    ids=["repository", "workflow", "environment"],
)
def test_a_refused_exchange_stops_promote_before_the_final_tag_naming_the_claim(
    make_project: Any,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    project_name: str,
    publisher: Publisher,
    claim: str,
) -> None:
    in_job(monkeypatch, issuer)
    front.publisher = publisher
    p = make_project(config=config(front, project_name))
    cut_rc(p)
    world_before, ledger = p.world(), p.ledger()

    result = p.cli("promote")

    assert result.exit_code == 3, result.stderr
    err = " ".join(result.stderr.split())
    assert "promote refused by preflight: nothing was changed" in err
    assert "package.upload-denied: 127.0.0.1:" in err
    assert f"the claim '{claim}' did not match" in err
    assert (p.world(), p.ledger()) == (world_before, ledger)
    assert FINAL not in p.remote_tags()
    assert uploads(pypi, project_name) == []


def test_outside_github_actions_promote_is_refused_naming_what_is_missing(
    make_project: Any,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    project_name: str,
) -> None:
    in_job(monkeypatch, issuer)
    p = make_project(config=config(front, project_name))
    cut_rc(p)
    in_job(monkeypatch, None)
    world_before, ledger = p.world(), p.ledger()

    result = p.cli("promote")

    assert result.exit_code == 3, result.stderr
    err = " ".join(result.stderr.split())
    assert "ACTIONS_ID_TOKEN_REQUEST_URL is not set" in err
    assert "id-token: write" in err
    assert (p.world(), p.ledger()) == (world_before, ledger)
    assert not [m for m, path in front.requests if path.startswith("/_/oidc/")]


def test_an_expired_oidc_token_is_refused_before_the_final_tag(
    make_project: Any,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    project_name: str,
) -> None:
    in_job(monkeypatch, issuer)
    p = make_project(config=config(front, project_name))
    cut_rc(p)
    world_before, ledger = p.world(), p.ledger()
    with OidcIssuer(ttl=-60).running() as stale:
        in_job(monkeypatch, stale)
        result = p.cli("promote")
    assert result.exit_code == 3, result.stderr
    err = " ".join(result.stderr.split())
    assert "invalid-token" in err and "expired" in err
    assert (p.world(), p.ledger()) == (world_before, ledger)
    assert uploads(pypi, project_name) == []


def test_a_publication_interrupted_after_the_first_file_is_finished_from_a_fresh_copy(
    make_project: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    project_name: str,
) -> None:
    in_job(monkeypatch, issuer)
    p = make_project(config=config(front, project_name))
    cut_rc(p)
    real_upload = PackageIndex.upload
    done: list[str] = []

    def fail_after_the_first(self: PackageIndex, dist: Any) -> Any:
        if done:
            raise PackageIndexError("127.0.0.1: POST failed: ConnectionError")
        done.append(dist.filename)
        return real_upload(self, dist)

    monkeypatch.setattr(PackageIndex, "upload", fail_after_the_first)
    first = p.cli("promote")
    assert first.exit_code == 1, first.stderr
    assert uploads(pypi, project_name) == done
    assert FINAL not in p.remote_tags()
    monkeypatch.setattr(PackageIndex, "upload", real_upload)

    # A new job: a copy of the world after the failure, its own OIDC token, a new upload token.
    resumed = copy_project(p, tmp_path / "resumed")
    front.minted.clear()
    result = resumed.cli("promote")

    assert result.exit_code == 0, result.stderr
    stored = uploads(pypi, project_name)
    assert stored[0] == done[0] and len(stored) == 2  # each file uploaded exactly once
    (published,) = [e for e in resumed.ledger() if e["kind"] == "package_published"]
    assert published["data"]["uploaded"] == [stored[1]]
    assert FINAL in resumed.remote_tags()
