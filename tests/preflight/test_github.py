"""GitHub preflight (remote identity, tokens, rulesets, immutable releases) and issue alerts.

Each class of breakage is reproduced on the GitHub test server and checked for its exact finding
ids; the clean twin must have none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rcflow.preflight.github import ref_matches
from tests.support.on_github import GitHubProject
from tests.support.project import Project


def doctor(p: Project) -> tuple[int, list[dict[str, Any]]]:
    result = p.cli("doctor", "--json")
    return result.exit_code, result.json()["findings"]


def ids(findings: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for f in findings]


def test_the_clean_twin_has_no_findings(make_github_project: GitHubProject) -> None:
    p, server = make_github_project()
    server.token_expires = datetime.now(UTC) + timedelta(days=90)
    assert doctor(p) == (0, [])


def test_a_transferred_repository_is_named_and_its_old_references_found(
    make_github_project: GitHubProject,
) -> None:
    p, server = make_github_project()
    p.write(
        ".github/workflows/release.yml",
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo https://github.com/acme/app/releases\n",
    )
    p.write("docs/install.md", "Docker Hub: acme/app:latest is not GitHub\n")
    p.commit("docs")
    p.push()
    server.rename("new-org", "app")

    code, found = doctor(p)

    assert code == 3
    moved = next(f for f in found if f["id"] == "github.repo-moved")
    assert moved["message"] == (
        "acme/app (configured) was renamed or transferred: GitHub now calls it new-org/app"
    )
    stale = [f for f in found if f["id"].startswith("stale-ref")]
    assert [f["where"] for f in stale] == [".github/workflows/release.yml:6"]


@pytest.mark.parametrize(
    ("days", "expected"),
    [(-1, ["github.token-expired"]), (3, ["github.token-expiring"]), (30, [])],
)
def test_token_expiry(make_github_project: GitHubProject, days: int, expected: list[str]) -> None:
    p, server = make_github_project()
    server.token_expires = datetime.now(UTC) + timedelta(days=days, hours=1)
    code, found = doctor(p)
    assert ids(found) == expected
    assert code == (3 if "github.token-expired" in expected else 0)


def test_an_invalid_token(
    make_github_project: GitHubProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, _ = make_github_project()
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_revoked")
    code, found = doctor(p)
    assert code == 3 and ids(found) == ["github.token-invalid"]
    assert "ghp_revoked" not in str(found)


def test_a_missing_token(
    make_github_project: GitHubProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, _ = make_github_project()
    monkeypatch.delenv("GITHUB_TOKEN")
    code, found = doctor(p)
    assert code == 3 and ids(found) == ["github.token-missing"]


def test_a_token_that_cannot_push(make_github_project: GitHubProject) -> None:
    p, server = make_github_project()
    server.token_permissions["contents"] = "read"
    code, found = doctor(p)
    assert code == 3 and ids(found) == ["github.token-cannot-push"]


def test_a_tag_ruleset_blocks_the_rc_before_anything_is_pushed(
    make_github_project: GitHubProject,
) -> None:
    p, server = make_github_project()
    assert p.cli("bump", "auto").exit_code == 0
    server.add_ruleset("release tags", include=["refs/tags/v*"], rules=[{"type": "creation"}])
    tags, ledger = p.remote_tags(), p.ledger()

    result = p.cli("rc")

    assert result.exit_code == 3, result.stderr
    assert "rc refused by preflight: nothing was changed" in result.stderr
    assert (
        "github.ruleset-creation: tag ruleset 'release tags' forbids the token to create "
        "v1.4.0-rc.1" in result.stderr
    )
    assert (p.remote_tags(), p.ledger()) == (tags, ledger)


def test_rulesets_that_do_not_apply(make_github_project: GitHubProject) -> None:
    p, server = make_github_project()
    server.add_ruleset(
        "bypassed", include=["~ALL"], rules=[{"type": "creation"}], current_user_can_bypass="always"
    )
    server.add_ruleset("other tags", include=["refs/tags/nightly-*"], rules=[{"type": "creation"}])
    server.add_ruleset(
        "excluded", include=["~ALL"], exclude=["refs/tags/v*"], rules=[{"type": "creation"}]
    )
    server.add_ruleset("branches", target="branch", include=["~ALL"], rules=[{"type": "creation"}])
    server.add_ruleset("no deletion only", include=["~ALL"], rules=[{"type": "deletion"}])
    server.add_ruleset(
        "off", include=["~ALL"], enforcement="disabled", rules=[{"type": "creation"}]
    )
    assert doctor(p) == (0, [])
    server.add_ruleset(
        "trial", include=["~ALL"], enforcement="evaluate", rules=[{"type": "creation"}]
    )
    code, found = doctor(p)
    assert code == 0 and [(f["id"], f["severity"]) for f in found] == [
        ("github.ruleset-creation", "warning")
    ]


def test_deleting_the_tag_of_an_immutable_release_is_refused(
    make_github_project: GitHubProject,
) -> None:
    p, server = make_github_project()
    server.immutable_releases = True
    for args in (("bump", "auto"), ("rc",), ("validate",), ("promote",)):
        assert p.cli(*args).exit_code == 0, args
    result = p.cli("rollback", "--delete-tag")
    assert result.exit_code == 3
    assert "github.immutable-tag" in result.stderr
    assert "v1.4.0" in p.remote_tags()
    assert p.cli("rollback").exit_code == 0  # retracting without deleting the tag is fine


def test_rulesets_github_cannot_serve_are_an_error_finding_not_a_crash(
    make_github_project: GitHubProject,
) -> None:
    from rcflow.preflight import github as github_checks

    p, server = make_github_project()
    forge: Any = p.ctx().forge
    forge.attempts = 1  # no retries: the 502 is final
    server.fail_server_error("GET", r"/rulesets", times=1)

    found, _ = github_checks.findings(forge, origin=None, create_tags=["v1.4.0"])

    assert [(f.id, f.severity) for f in found] == [("github.rulesets-unreadable", "error")]
    assert found[0].message == (
        "tag rulesets could not be read for v1.4.0: GitHub failed while reading rulesets "
        "(GET /repos/acme/app/rulesets) (502 Server Error)"
    )


def test_an_older_ghes_warns_where_github_com_is_silent(
    make_github_project: GitHubProject,
) -> None:
    p, server = make_github_project()
    server.token_expires = None  # a token that does not expire: github.com sends no header
    assert doctor(p) == (0, [])
    server.as_older_ghes()
    code, found = doctor(p)
    assert code == 0
    assert ids(found) == [
        "github.immutable-unchecked",
        "github.rulesets-unchecked",
        "github.token-expiry-unchecked",
    ]


@pytest.mark.parametrize(
    ("pattern", "ref", "matches"),
    [
        ("refs/tags/v*", "refs/tags/v1.4.0", True),
        ("refs/tags/v*", "refs/tags/release/v1", False),
        ("refs/tags/**", "refs/tags/release/v1", True),
        ("refs/tags/v?.*", "refs/tags/v1.4", True),
        ("~ALL", "refs/tags/anything", True),
        ("refs/tags/v1.4.0", "refs/tags/v1.4.0-rc.1", False),
    ],
)
def test_ruleset_ref_patterns(pattern: str, ref: str, matches: bool) -> None:
    assert ref_matches(pattern, ref) is matches


# -- alerts as a GitHub issue ----------------------------------------------------------------


def test_a_failing_step_keeps_one_issue_open_until_it_succeeds(
    make_github_project: GitHubProject,
) -> None:
    p, server = make_github_project(
        '[notify]\nissue = true\n[[validate]]\nname = "unit"\nrun = "false"\n'
    )
    for args in (("bump", "auto"), ("rc",)):
        assert p.cli(*args).exit_code == 0

    assert p.cli("validate").exit_code == 1
    assert p.cli("validate", "--rerun", "unit").exit_code == 1

    assert len(server.issues) == 1
    issue = next(iter(server.issues.values()))
    assert (issue.title, issue.state, issue.labels) == (
        "rcflow: the 1.4 release is failing",
        "open",
        ["rcflow"],
    )
    assert "validate failed: unit" in (issue.body or "")
    assert "resume with: rcflow validate" in (issue.body or "")
    assert len(issue.comments) == 1  # the second failure commented on the same issue

    p.write("rcflow.toml", p.read("rcflow.toml").replace('run = "false"', 'run = "true"'))
    p.commit("fix: the test")
    p.push()
    assert p.cli("rc").exit_code == 0
    assert p.cli("validate").exit_code == 0
    assert issue.state == "closed"
    assert issue.comments[-1].body.startswith("`rcflow ")
    assert len(server.issues) == 1


def test_doctor_checks_the_workflow_a_validation_dispatches(
    make_github_project: GitHubProject,
) -> None:
    p, _server = make_github_project('[[validate]]\nname = "e2e"\nworkflow = "e2e.yml"\n')
    code, found = doctor(p)
    assert code == 3
    assert ids(found) == ["validate.workflow-missing"]
    assert (
        found[0]["message"]
        == "validation e2e dispatches .github/workflows/e2e.yml, which does not exist"
    )
