"""Trusted publishing against a GitHub Actions OIDC stand-in and a PyPI front (the documented
`/_/oidc/audience` and `/_/oidc/mint-token`) before a real pypiserver: no password configured."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from realservers.oidc import IndexFront, OidcIssuer, Publisher, job_claims
from realservers.pypi import PypiServer, build_sdist, build_wheel

from rcflow.adapters.pyindex import IndexAccessError, PackageIndex, publish
from rcflow.commands.context import open_index
from rcflow.engine import registries as artifacts
from rcflow.errors import BlockedError
from rcflow.model.config import PythonPackageConfig

# The index user the conftest's `pypi` and `front` fixtures serve this module with.
USER, PASSWORD = "trusted-uploader", "pypiserver-only-" + secrets.token_hex(4)


@pytest.fixture
def masked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(artifacts, "mask_secret", seen.append)
    return seen


def trusted(front: IndexFront) -> PythonPackageConfig:
    return PythonPackageConfig(
        upload_url=front.url, simple_url=front.simple_url, trusted_publishing=True
    )


def in_job(monkeypatch: pytest.MonkeyPatch, issuer: OidcIssuer) -> None:
    for key, value in issuer.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RCFLOW_INDEX_PASSWORD", raising=False)


def dists(directory: Path, version: str = "1.4.0") -> list[Path]:
    project = f"trusted-demo-{secrets.token_hex(3)}"
    return [build_wheel(directory, project, version), build_sdist(directory, project, version)]


def test_publishes_through_the_exchange_with_no_password_configured(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    masked: list[str],
) -> None:
    in_job(monkeypatch, issuer)
    paths = dists(tmp_path)
    index = open_index(trusted(front))
    outcomes = publish(index, paths)
    assert [o.action for o in outcomes] == ["uploaded", "uploaded"]
    assert [p.name for p in paths] == [n for n in pypi.stored() if n in {p.name for p in paths}]
    # One exchange for the whole publication, for the index's own audience.
    assert [p for m, p in front.requests if p.startswith("/_/oidc/")] == [
        "/_/oidc/audience",
        "/_/oidc/mint-token",
    ]
    assert [p for _m, p in issuer.requests] == ["/_apis/token?api-version=2.0&audience=pypi"]
    minted = list(front.minted)
    assert len(minted) == 1
    # Every secret was handed to the mask before use: the request token, the OIDC token, the
    # minted token.
    assert masked == [issuer.request_token, issuer.issued[0], minted[0]]
    assert minted[0] not in repr(index)


def test_the_upload_proof_is_the_exchange_and_uploads_nothing(
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    masked: list[str],
) -> None:
    in_job(monkeypatch, issuer)
    before = list(pypi.stored())
    open_index(trusted(front)).can_upload()
    assert len(front.minted) == 1
    assert pypi.stored() == before


@pytest.mark.parametrize(
    ("publisher", "claim", "value"),
    [
        (Publisher(repository="acme/other"), "repository", "acme/demo"),
        (Publisher(workflow="publish.yml"), "job_workflow_ref", ".github/workflows/release.yml"),
        (Publisher(environment="release"), "environment", "pypi"),
    ],
    ids=["repository", "workflow", "environment"],
)
def test_a_refused_exchange_names_the_claim_that_did_not_match(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    masked: list[str],
    publisher: Publisher,
    claim: str,
    value: str,
) -> None:
    in_job(monkeypatch, issuer)
    front.publisher = publisher
    paths = dists(tmp_path)
    with pytest.raises(IndexAccessError) as refused:
        publish(open_index(trusted(front)), paths)
    message = refused.value.message
    assert f"the claim '{claim}' did not match" in message
    assert value in message
    assert "invalid-publisher" in message
    assert "trusted publisher" in (refused.value.hint or "")
    assert isinstance(refused.value, BlockedError)
    assert not front.minted
    assert not {p.name for p in paths} & set(pypi.stored())
    for secret in (issuer.request_token, *issuer.issued):
        assert secret not in message


def test_an_expired_oidc_token_is_refused_by_the_index(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    masked: list[str],
) -> None:
    with OidcIssuer(ttl=-60).running() as stale:
        in_job(monkeypatch, stale)
        paths = dists(tmp_path)
        with pytest.raises(IndexAccessError) as refused:
            publish(open_index(trusted(front)), paths)
    assert "refused the trusted publishing exchange" in refused.value.message
    assert "invalid-token" in refused.value.message and "expired" in refused.value.message
    assert "expired" in (refused.value.hint or "")
    assert front.refusals and not front.minted
    assert not {p.name for p in paths} & set(pypi.stored())


def test_outside_github_actions_it_says_what_is_missing_and_asks_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, front: IndexFront, masked: list[str]
) -> None:
    for key in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RCFLOW_INDEX_PASSWORD", PASSWORD)  # ignored: trusted publishing is on
    with pytest.raises(IndexAccessError) as refused:
        open_index(trusted(front)).can_upload()
    assert "ACTIONS_ID_TOKEN_REQUEST_URL is not set" in refused.value.message
    assert "id-token: write" in (refused.value.hint or "")
    assert front.requests == []
    assert masked == []


def test_a_missing_id_token_permission_is_named(
    monkeypatch: pytest.MonkeyPatch, front: IndexFront, issuer: OidcIssuer, masked: list[str]
) -> None:
    in_job(monkeypatch, issuer)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "not-the-job-token")
    with pytest.raises(IndexAccessError) as refused:
        open_index(trusted(front)).can_upload()
    assert "refused the OIDC token request (HTTP 401)" in refused.value.message
    assert "id-token: write" in (refused.value.hint or "")


def test_a_partial_upload_is_resumed_with_a_new_token(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pypi: PypiServer,
    front: IndexFront,
    issuer: OidcIssuer,
    masked: list[str],
) -> None:
    in_job(monkeypatch, issuer)
    paths = dists(tmp_path)
    real_upload = PackageIndex.upload
    calls: list[str] = []

    def crash_after_the_first(self: PackageIndex, dist: Any) -> Any:
        if calls:
            raise KeyboardInterrupt  # the job is killed between the two uploads
        calls.append(dist.filename)
        return real_upload(self, dist)

    monkeypatch.setattr(PackageIndex, "upload", crash_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        publish(open_index(trusted(front)), paths)
    monkeypatch.setattr(PackageIndex, "upload", real_upload)
    ours = {p.name for p in paths}
    assert [n for n in pypi.stored() if n in ours] == [paths[0].name]
    # The first token has expired by the re-run (a new job): the re-run mints its own.
    front.minted.clear()
    outcomes = publish(open_index(trusted(front)), paths)
    assert [(o.target, o.action) for o in outcomes] == [
        (paths[0].name, "skipped"),
        (paths[1].name, "uploaded"),
    ]
    assert [n for n in pypi.stored() if n in ours] == [p.name for p in paths]
    assert len(front.minted) == 1


def test_the_claims_in_the_jwt_are_read_only_to_name_them() -> None:
    from realservers.oidc import jwt

    from rcflow.adapters.pyindex import _claims

    assert _claims(jwt(job_claims()))["repository"] == "acme/demo"
    assert _claims("not-a-jwt") == {}
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.", jwt({"a": 1}))


def test_pypis_answer_without_a_claim_lists_the_jobs_claims_to_compare() -> None:
    import requests
    from realservers.oidc import jwt

    from rcflow.adapters.pyindex import _mint_refusal

    response = requests.Response()
    response.status_code = 422
    response._content = (
        b'{"message": "Token request failed", "errors": [{"code": "invalid-publisher", '
        b'"description": "valid token, but no corresponding publisher (Publisher with matching '
        b'claims was not found)"}]}'
    )
    text = _mint_refusal(response, jwt(job_claims(environment=None)))
    assert text.startswith("no trusted publisher matches this job's claims (repository='acme/demo'")
    assert "job_workflow_ref='acme/demo/.github/workflows/release.yml@refs/heads/main'" in text
    assert "environment" not in text.split(" (invalid-publisher")[0]
    assert "did not match" not in text
