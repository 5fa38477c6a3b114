"""The GitHub forge's deployment reads (ports.ci.CI.deployment) against the test server."""

from __future__ import annotations

import pytest
from ghserver import GitHubServer

from rcflow.adapters.github import GitHubError
from tests.adapters.test_github import forge_for

SHA = "c" * 40
OTHER = "d" * 40


def test_the_newest_deployment_of_the_sha_to_the_environment_and_its_latest_status(
    github_server: GitHubServer,
) -> None:
    older = github_server.add_deployment(SHA, "staging", states=["success"])
    newer = github_server.add_deployment(SHA, "staging", states=["queued", "in_progress"])
    github_server.add_deployment(SHA, "production", states=["success"])
    github_server.add_deployment(OTHER, "staging", states=["failure"])
    github_server.add_deployment_status(
        newer, "success", log_url="https://deploy.example/7", environment_url="https://stg.example"
    )

    fact = forge_for(github_server).deployment(SHA, "staging")

    assert fact is not None
    assert (fact.id, fact.sha, fact.environment, fact.state) == (newer, SHA, "staging", "success")
    assert fact.status_url == "https://deploy.example/7"
    assert fact.environment_url == "https://stg.example"
    assert fact.url == f"{github_server.base_url}/repos/acme/app/deployments/{newer}"
    assert fact.status_at == github_server.deployments[newer].statuses[-1].created_at
    # The success made the older one inactive, as GitHub does.
    assert github_server.deployments[older].statuses[-1].state == "inactive"


def test_none_without_a_deployment_and_no_state_without_a_status(
    github_server: GitHubServer,
) -> None:
    forge = forge_for(github_server)
    assert forge.deployment(SHA, "staging") is None
    ident = github_server.add_deployment(SHA, "staging")
    fact = forge.deployment(SHA, "staging")
    assert fact is not None
    assert (fact.id, fact.state, fact.status_url, fact.status_at) == (ident, None, None, None)


def test_an_environment_name_is_sent_as_a_query_value_not_as_more_query(
    github_server: GitHubServer,
) -> None:
    awkward = "eu west/1&sha=" + OTHER + "#x"
    github_server.add_deployment(OTHER, "eu west/1", states=["success"])
    ident = github_server.add_deployment(SHA, awkward, states=["success"])

    fact = forge_for(github_server).deployment(SHA, awkward)

    assert fact is not None and (fact.id, fact.environment) == (ident, awkward)
    assert forge_for(github_server).deployment(OTHER, awkward) is None


def test_a_token_without_deployments_read_is_named_and_never_shown(
    github_server: GitHubServer,
) -> None:
    github_server.token_permissions["deployments"] = "none"
    with pytest.raises(GitHubError) as info:
        forge_for(github_server).deployment(SHA, "staging")
    assert info.value.message == (
        f"GitHub denied reading the deployments of {SHA[:7]} to staging (403 Resource not "
        "accessible by integration): the token needs deployments: read"
    )
    assert github_server.token not in info.value.message + (info.value.hint or "")


def test_transient_failures_are_retried(github_server: GitHubServer) -> None:
    github_server.add_deployment(SHA, "staging", states=["success"])
    github_server.fail_server_error("GET", r"/deployments$", times=2)
    forge = forge_for(github_server)
    fact = forge.deployment(SHA, "staging")
    assert fact is not None and fact.state == "success"
    assert len(forge.waits) == 2
