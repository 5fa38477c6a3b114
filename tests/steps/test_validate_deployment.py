"""Deployment evidence on GitHub: a `deployment = "staging"` validation gates promotion.

Git is real; GitHub is the test server (the deployments and deployment-statuses operations
held to GitHub's OpenAPI description like the rest). What deploys is outside rcflow, as it is
in life (a deploy workflow, Argo CD): the tests post deployments and their statuses to the
server. Time is fake: the forge's clock and sleep are replaced.
"""

from __future__ import annotations

from typing import Any

import pytest

from rcflow.steps.validate import ValidateArgs
from tests.steps.test_validate_github import (  # noqa: F401 - fake_time, make_rc: fixtures
    RC,
    FakeTime,
    Make,
    fake_time,
    make_rc,
    result,
    sha_of,
)
from tests.support.crash import Attempt, crash_each_write
from tests.support.ledger import events
from tests.support.project import Project, fresh_clone

STAGING = '[[validate]]\nname = "staging"\ndeployment = "staging"\ntimeout = "10m"\n'


def promote_refused(p: Project, why: str) -> None:
    refused = p.cli("promote")
    assert refused.exit_code == 3, refused.stdout + refused.stderr
    assert why in refused.stderr
    assert "v1.4.0" not in p.remote_tags()


def test_a_successful_deployment_of_the_rc_gates_promotion(
    make_rc: Make,  # noqa: F811
    tmp_path: Any,
    fake_time: FakeTime,  # noqa: F811
) -> None:
    p, server = make_rc(STAGING)
    sha = sha_of(p)
    promote_refused(p, "has not passed validation")
    ident = server.add_deployment(
        sha, "staging", ref=RC, states=["queued"], steps=["in_progress", "success"]
    )
    server.deployments[ident].statuses[0].log_url = "https://deploy.example/42"

    out = p.cli("validate")

    assert out.exit_code == 0, out.stdout + out.stderr
    event = result(p, "staging")
    data = event["data"]
    assert event["kind"] == "validation_passed"
    assert {k: data[k] for k in ("sha", "kind", "conclusion", "environment", "deployment_id")} == {
        "sha": sha,
        "kind": "deployment",
        "conclusion": "success",
        "environment": "staging",
        "deployment_id": ident,
    }
    deployment = server.deployments[ident]
    latest = deployment.statuses[-1]
    assert data["deployed_at"] == latest.created_at
    assert data["deployment_url"] == f"{server.base_url}/repos/acme/app/deployments/{ident}"
    assert data["url"] == data["status_url"] == f"{data['deployment_url']}/statuses/{latest.id}"
    assert data["ran"] == "deployment to staging"
    assert data["detail"] == (
        f"{sha[:7]} deployed to staging at {latest.created_at} (deployment {ident})"
    )
    # Polled like checks: one line per change of state, then the verdict.
    lines = [line.strip() for line in out.stderr.splitlines() if line.strip().startswith("staging")]
    assert lines == [
        f"staging waiting deployment {ident} to staging queued",
        f"staging waiting deployment {ident} to staging in_progress",
        f"staging waiting deployment {ident} to staging success",
        f"staging passed {data['detail']}",
    ]
    assert fake_time.sleeps == [5.0, 7.5]
    shown = {v["name"]: v for v in p.status()["candidates"][0]["validations"]}
    assert (shown["staging"]["kind"], shown["staging"]["url"]) == ("deployment", data["url"])

    again = p.cli("validate")
    assert again.exit_code == 0 and "Already done" in again.stdout

    # Another machine promotes: the evidence is in the ledger on the remote.
    other = fresh_clone(p, tmp_path / "elsewhere")
    promoted = other.cli("promote")
    assert promoted.exit_code == 0, promoted.stderr
    assert other.remote_tags()["v1.4.0"] == sha
    assert p.cli("promote").exit_code == 0  # already done, from the first clone too


@pytest.mark.parametrize("state", ["failure", "error"])
def test_a_failed_deployment_rejects_the_rc_at_once(
    make_rc: Make,  # noqa: F811
    fake_time: FakeTime,  # noqa: F811
    state: str,
) -> None:
    p, server = make_rc(STAGING)
    ident = server.add_deployment(
        sha_of(p), "staging", states=["in_progress", state], log_url="https://deploy.example/9"
    )

    out = p.cli("validate")

    assert out.exit_code == 1
    data = result(p, "staging")["data"]
    assert (data["conclusion"], data["url"]) == (state, "https://deploy.example/9")
    assert data["detail"] == f"deployment {ident} to staging {state}: https://deploy.example/9"
    assert fake_time.sleeps == []
    assert p.status()["state"] == "rejected"
    promote_refused(p, f"{RC} failed validation (staging)")


def test_a_deployment_elsewhere_or_of_another_commit_is_no_evidence(
    make_rc: Make,  # noqa: F811
    fake_time: FakeTime,  # noqa: F811
) -> None:
    p, server = make_rc(STAGING)
    sha = sha_of(p)
    other = p.git("rev-parse", f"{sha}~1").strip()
    server.add_deployment(sha, "production", states=["success"])  # wrong environment
    server.add_deployment(sha, "Staging-EU", states=["success"])
    server.add_deployment(other, "staging", states=["success"])  # another sha

    out = p.cli("validate")

    assert out.exit_code == 1
    data = result(p, "staging")["data"]
    assert data["conclusion"] == "timed_out"
    assert data["detail"] == f"timed out after 10m: no deployment of {sha[:7]} to staging yet"
    assert sum(fake_time.sleeps) == 600
    asked = [r for r in server.requests if r.path.endswith("/deployments")]
    assert asked
    assert all(f"sha={sha}" in r.query and "environment=staging" in r.query for r in asked)
    promote_refused(p, f"{RC} failed validation (staging)")


def test_an_inactive_deployment_is_not_current_and_a_redeploy_passes(make_rc: Make) -> None:  # noqa: F811
    p, server = make_rc(STAGING)
    sha = sha_of(p)
    server.add_deployment(sha, "staging", states=["success"])
    later = server.add_deployment(p.git("rev-parse", f"{sha}~1").strip(), "staging")
    server.add_deployment_status(later, "success")  # GitHub marks the RC's deployment inactive

    out = p.cli("validate")

    assert out.exit_code == 1
    detail = result(p, "staging")["data"]["detail"]
    assert detail.startswith("timed out after 10m: deployment ")
    assert detail.endswith(" to staging is inactive (a newer deployment replaced it)")

    redeploy = server.add_deployment(sha, "staging", steps=["success"])
    assert p.cli("validate").exit_code == 0  # a required failure is tried again
    assert result(p, "staging")["data"]["deployment_id"] == redeploy
    assert p.status()["state"] == "validated"


def test_a_token_without_deployments_read_is_an_error_not_a_verdict(make_rc: Make) -> None:  # noqa: F811
    p, server = make_rc(STAGING)
    server.token_permissions["deployments"] = "none"

    out = p.cli("validate")

    assert out.exit_code == 1
    assert "the token needs deployments: read" in out.stderr
    assert events(p, "validation_passed", "validation_failed") == []
    for text in (out.stdout, out.stderr, p.git("log", "-p", "refs/rcflow/ledger")):
        assert server.token not in text


def test_the_token_never_reaches_output_or_ledger(make_rc: Make) -> None:  # noqa: F811
    p, server = make_rc(STAGING)
    server.add_deployment(sha_of(p), "staging", states=["success"])
    outs = [p.cli("validate"), p.cli("status"), p.cli("log"), p.cli("promote")]
    assert [o.exit_code for o in outs] == [0, 0, 0, 0]
    for text in [o.stdout + o.stderr for o in outs] + [p.git("log", "-p", "refs/rcflow/ledger")]:
        assert server.token not in text


def test_an_older_ghes_reads_deployments_the_same_way(make_rc: Make) -> None:  # noqa: F811
    p, server = make_rc(STAGING)
    server.as_older_ghes()
    server.add_deployment(sha_of(p), "staging", states=["pending"], steps=["success"])
    out = p.cli("validate")
    assert out.exit_code == 0, out.stdout + out.stderr
    assert result(p, "staging")["data"]["conclusion"] == "success"


def test_a_deployment_validation_on_the_local_forge_is_refused(make_project: Any) -> None:
    p = make_project(config=STAGING)
    assert p.cli("bump").exit_code == 0 and p.cli("rc").exit_code == 0

    out = p.cli("validate")

    assert out.exit_code == 3
    assert "staging runs on GitHub (deployment), but the forge is local" in out.stderr
    assert "nothing was changed" in out.stderr


def test_a_dry_run_describes_the_wait(make_rc: Make) -> None:  # noqa: F811
    p, _server = make_rc(STAGING)
    out = p.cli("validate", "--dry-run")
    assert out.exit_code == 0, out.stderr
    assert "wait for staging (a successful deployment to staging)" in out.stdout


def test_doctor_names_a_deployment_validation_no_forge_here_can_read(make_project: Any) -> None:
    p = make_project(config=STAGING)

    out = p.cli("doctor", "--json")

    assert out.exit_code == 3
    [finding] = out.json()["findings"]
    assert finding["id"] == "validate.needs-github"
    assert finding["message"] == (
        "staging runs on GitHub (deployment), but the forge is local: nothing here can read "
        "its deployments to staging"
    )
    assert finding["fix"] == (
        'set forge = "github" and github_repository = "owner/repo" in rcflow.toml'
    )


def test_doctor_is_silent_about_it_on_github(make_github_project: Any) -> None:
    p, _server = make_github_project(STAGING)
    ids = [f["id"] for f in p.cli("doctor", "--json").json()["findings"]]
    assert "validate.needs-github" not in ids


def test_a_crash_after_each_write_then_validate_converges_from_a_fresh_clone(
    make_rc: Make,  # noqa: F811
) -> None:
    def start(name: str) -> Project:
        p, server = make_rc(STAGING)
        server.add_deployment(sha_of(p), "staging", states=["in_progress"], steps=["success"])
        return p

    def resume(crash: Attempt) -> None:
        other = crash.fresh_clone()
        rerun = other.cli("validate")
        assert rerun.exit_code == 0, (crash.where, rerun.stdout + rerun.stderr)
        assert other.status()["state"] == "validated", crash.where
        passed = [e for e in events(other, "validation_passed") if e["key"] == f"{RC}/staging"]
        assert len(passed) == 1, crash.where  # recorded once, whichever run recorded it

    crashed = crash_each_write(start, "validate", ValidateArgs(), resume, limit=40)
    assert len(crashed) >= 4, crashed  # the lease, the result, the completion, the release
