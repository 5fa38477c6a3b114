"""An older GitHub Enterprise Server: the features it lacks go unchecked, with a warning.

The test server answers as GHES 3.10 does (`as_older_ghes`): no rulesets API, no immutable
releases endpoint, a workflow dispatch that answers 204 without the run, no token-expiration
header. Its answers, the 404s included, are still held to GitHub's OpenAPI description.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ghserver import GitHubServer
from ghserver.server import GHES_FEATURES

from tests.steps.test_validate_github import (  # noqa: F401 - fake_time, make_rc: fixtures
    CHECKS,
    E2E,
    E2E_INPUTS,
    E2E_WORKFLOW,
    RC,
    RUN_NAME,
    fake_time,
    make_rc,
)
from tests.support.on_github import GitHubProject
from tests.support.project import Project, fresh_clone

# The warning each missing feature gives in `doctor`.
WARNING = {
    "rulesets": "github.rulesets-unchecked",
    "immutable-releases": "github.immutable-unchecked",
    "token-expiration": "github.token-expiry-unchecked",
}


def project(make: GitHubProject, *features: str) -> tuple[Project, GitHubServer]:
    p, server = make(E2E, files={".github/workflows/e2e.yml": E2E_WORKFLOW})
    server.add_workflow(
        ".github/workflows/e2e.yml",
        "e2e",
        run_name=RUN_NAME,
        steps=[("in_progress", None), ("completed", "success")],
    )
    server.token_expires = datetime.now(UTC) + timedelta(days=90)
    server.add_ruleset("tags")  # forbids deleting v* tags: unseen where rulesets are missing
    server.as_older_ghes(*features)
    return p, server


def findings(p: Project) -> dict[str, dict[str, Any]]:
    out = p.cli("doctor", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    return {f["id"]: f for f in out.json()["findings"]}


@pytest.mark.usefixtures("fake_time")
def test_the_whole_cycle_runs_on_an_older_ghes(make_github_project: GitHubProject) -> None:
    p, server = project(make_github_project)

    found = findings(p)
    assert sorted(found) == sorted(WARNING.values())
    assert all(f["severity"] == "warning" for f in found.values())
    assert found["github.rulesets-unchecked"]["message"] == (
        "tag rulesets were not checked for v1.4.0-rc.1, v1.4.0: GitHub (GitHub Enterprise "
        "Server 3.10.0) answered 404 Not Found while reading rulesets "
        "(GET /repos/acme/app/rulesets)"
    )
    assert found["github.immutable-unchecked"]["message"] == (
        "GitHub Enterprise Server 3.10.0 does not say whether releases are immutable in "
        "acme/app: that a published release's tag can be deleted was not checked"
    )
    assert (
        "3.10.0 did not say when the token expires"
        in (found["github.token-expiry-unchecked"]["message"])
    )

    for args in (("bump", "minor"), ("rc",), ("validate",), ("promote",)):
        out = p.cli(*args)
        assert out.exit_code == 0, (args, out.stdout, out.stderr)
        if args == ("validate",):
            assert "GitHub did not return the run's id" in out.stderr
    dispatched = next(e for e in p.ledger() if e["kind"] == "validation_dispatched")
    assert dispatched["data"]["run_details"] is False
    hint = findings(p)["github.dispatch-run-details"]
    assert hint["severity"] == "warning" and "e2e.yml" in hint["message"]
    assert hint["fix"] == "keep ${{ inputs.rcflow_run_id }} in the run-name of e2e.yml"
    assert p.status()["state"] == "released"

    # Deleting the tag of a published release is exactly what immutability would forbid:
    # unchecked here, it goes ahead (this server has no immutable releases).
    out = p.cli("rollback", "--delete-tag", "--reason", "bad")
    assert out.exit_code == 0, out.stdout + out.stderr
    assert p.status()["state"] == "retracted"
    assert "v1.4.0" not in p.remote_tags()
    again = p.cli("rollback", "v1.4.0")
    assert again.exit_code == 0, again.stdout + again.stderr
    # No request ever reached an endpoint this server has, and failed for want of it.
    assert server.count("GET", r"/rulesets") >= 1 and server.refused == []


@pytest.mark.usefixtures("fake_time")
@pytest.mark.parametrize("feature", GHES_FEATURES)
def test_each_missing_feature_is_its_own_warning(
    make_github_project: GitHubProject, feature: str
) -> None:
    p, _server = project(make_github_project, feature)

    found = findings(p)

    assert sorted(found) == ([WARNING[feature]] if feature in WARNING else [])
    assert p.cli("bump", "minor").exit_code == 0
    assert p.cli("rc").exit_code == 0
    out = p.cli("validate")
    assert out.exit_code == 0, out.stderr
    assert ("GitHub did not return the run's id" in out.stderr) == (feature == "run-details")


def test_the_same_repository_on_a_current_github_has_no_warnings(
    make_github_project: GitHubProject,
) -> None:
    p, server = make_github_project()
    server.token_expires = datetime.now(UTC) + timedelta(days=90)
    server.enterprise_version = "3.17.0"  # a GHES that has every feature: nothing unchecked
    assert findings(p) == {}


def test_a_plan_without_rulesets_is_a_warning_not_a_refusal(
    make_github_project: GitHubProject,
) -> None:
    p, server = make_github_project()
    message = "Upgrade to GitHub Pro or make this repository public to enable this feature."
    server.fail("GET", r"/rulesets", 403, times=2, body={"message": message})

    assert p.cli("bump", "minor").exit_code == 0
    out = p.cli("rc")

    assert out.exit_code == 0, out.stderr
    found = findings(p)
    assert found["github.rulesets-unchecked"]["severity"] == "warning"
    assert message in found["github.rulesets-unchecked"]["message"]


def test_a_404_names_what_answered_it(make_github_project: GitHubProject) -> None:
    from rcflow.adapters.github import GitHubError

    p, server = make_github_project()
    forge = p.ctx().forge
    server.as_older_ghes("rulesets")
    with pytest.raises(GitHubError) as caught:
        forge.rulesets()  # type: ignore[attr-defined]
    assert "has no acme/app" not in caught.value.message
    assert caught.value.message == (
        "GitHub (GitHub Enterprise Server 3.10.0) answered 404 Not Found while reading rulesets "
        "(GET /repos/acme/app/rulesets)"
    )
    server.as_older_ghes()  # the repository itself still is what a 404 from it means
    server.owner = "elsewhere"
    with pytest.raises(GitHubError, match=r"^GitHub has no acme/app, or the token cannot see"):
        forge.repo_facts()  # type: ignore[attr-defined]


def test_every_validation_event_names_what_ran(make_rc: Any) -> None:  # noqa: F811
    p, server = make_rc(E2E_INPUTS + CHECKS)
    sha = p.remote_tags()[RC]
    for name in ("build", "lint"):
        server.add_check_run(sha, name)
    server.add_status(sha, "ci/docs", "success")

    assert p.cli("validate").exit_code == 0

    about = {
        (e["kind"], e["key"]): e["data"] for e in p.ledger() if e["kind"].startswith("validation_")
    }
    config = f"rcflow.toml at {sha[:7]}"
    for kind in ("validation_dispatching", "validation_dispatched", "validation_passed"):
        data = about[(kind, f"{RC}/e2e")]
        assert (data["workflow"], data["inputs"], data["ran"], data["config"]) == (
            "e2e.yml",
            {"suite": "full"},
            "e2e.yml (suite=full)",
            config,
        )
    ci = about[("validation_passed", f"{RC}/ci")]
    assert (ci["required_checks"], ci["required_statuses"], ci["ran"]) == (
        ["build", "lint"],
        ["ci/docs"],
        "build, lint, ci/docs",
    )
    shown = {v["name"]: v["ran"] for v in p.status()["candidates"][0]["validations"]}
    assert shown == {"e2e": "e2e.yml (suite=full)", "ci": "build, lint, ci/docs"}
    # A fresh clone with an edited working tree still shows the same evidence and verdict.
    other = fresh_clone(p, p.base.parent / "fresh")
    other.write("rcflow.toml", other.read("rcflow.toml").replace("full", "smoke"))
    mine, theirs = p.status(), other.status()
    assert theirs["state"] == mine["state"] == "validated"
    assert theirs["candidates"] == mine["candidates"]
    assert other.cli("log").stdout == p.cli("log").stdout
    again = other.cli("validate")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert "changes e2e" in " ".join(again.stdout.split())


@pytest.mark.usefixtures("fake_time")
def test_a_server_that_refuses_return_run_details_is_asked_again_without_it(
    make_github_project: GitHubProject,
) -> None:
    p, server = project(make_github_project, "run-details")
    refusal = 'Invalid request.\n\n"return_run_details" is not a permitted key.'
    server.fail("POST", r"/dispatches$", 422, body={"message": refusal})
    assert p.cli("bump", "minor").exit_code == 0
    assert p.cli("rc").exit_code == 0

    out = p.cli("validate")

    assert out.exit_code == 0, out.stdout + out.stderr
    assert len(server.dispatched()) == 1
    assert server.count("POST", r"/dispatches$") == 2
