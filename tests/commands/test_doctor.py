"""rcflow doctor: findings with ids and file:line, exit 3 on errors, silent on a clean twin."""

from __future__ import annotations

from typing import Any

from tests.support.project import Project, git

# Line 12 interpolates a dispatch input straight into the script: a script injection.
INJECTABLE_WORKFLOW = (
    "on:\n  workflow_dispatch:\n    inputs:\n      version:\n        type: string\n"
    "permissions:\n  contents: read\n"
    "jobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n"
    '      - run: echo "${{ inputs.version }}"\n'
)

MANIFEST_CONFIG = (
    '[[version_file]]\npath = "pyproject.toml"\n\n'
    '[[version_file]]\npath = "deploy/kustomization.yaml"\n'
    "pattern = 'newTag: (?P<version>\\S+)'\n"
    'spelling = "tag"\n'
)


def manifest_project(make_project: Any, pin: str) -> Project:
    p: Project = make_project()
    p.write("rcflow.toml", MANIFEST_CONFIG)
    p.write("deploy/kustomization.yaml", f"images:\n  - name: app\n    newTag: {pin}\n")
    p.commit("chore: deploy manifest")
    p.push()
    return p


def test_a_clean_repository_has_no_findings(make_project: Any) -> None:
    p = manifest_project(make_project, "v1.3.0")
    result = p.cli("doctor")
    assert result.exit_code == 0, result.stdout
    assert "No findings" in result.stdout
    assert p.cli("doctor", "--json").json() == {"findings": [], "errors": 0, "warnings": 0}


def test_a_manifest_pinning_the_previous_rc_is_reported_with_file_and_line(
    make_project: Any,
) -> None:
    p = manifest_project(make_project, "v1.3.0-rc.2")

    result = p.cli("doctor", "--json")

    assert result.exit_code == 3
    [finding] = result.json()["findings"]
    assert finding["id"] == "version.mismatch"
    assert finding["where"] == "deploy/kustomization.yaml:3"
    assert finding["message"] == "pattern is 'v1.3.0-rc.2', expected 'v1.3.0'"


def test_a_look_alike_spelling_is_a_mismatch(make_project: Any) -> None:
    p = manifest_project(make_project, "v1.3.0.rc.1")
    [finding] = p.cli("doctor", "--json").json()["findings"]
    assert (finding["id"], finding["where"]) == ("version.mismatch", "deploy/kustomization.yaml:3")


def test_git_state_findings(project: Project) -> None:
    project.write("feature.py", "changed\n")
    project.git("checkout", "--quiet", "-b", "topic")

    result = project.cli("doctor", "--json")

    assert result.exit_code == 3
    ids = [f["id"] for f in result.json()["findings"]]
    assert ids == ["git.branch", "git.dirty"]


def test_a_shallow_ci_checkout_is_named(project: Project) -> None:
    shallow = project.base / "shallow"
    git(project.base, "clone", "--quiet", "--depth=1", f"file://{project.origin}", str(shallow))
    other = Project(project.base)
    other.root = shallow

    result = other.cli("doctor", "--json")

    assert result.exit_code == 3
    found = {f["id"]: f for f in result.json()["findings"]}
    assert "git.shallow" in found
    assert "fetch-depth: 0" in found["git.shallow"]["fix"]


def test_stale_references_after_a_move_are_reported(project: Project) -> None:
    # origin reads as the repository's new GitHub name; git fetches it from the bare repo on disk.
    project.git("remote", "set-url", "origin", "https://github.com/new-org/repo.git")
    project.git("config", f"url.{project.origin}.insteadOf", "https://github.com/new-org/repo.git")
    # The local forge: this test is about the scan (tests/checks/test_github.py has GitHub's side).
    project.write("rcflow.toml", 'forge = "local"\nprevious_names = ["old-org/repo"]\n')
    project.write(
        ".github/workflows/release.yml",
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: docker push ghcr.io/old-org/app:latest\n",
    )
    project.write("README.md", "Clone https://github.com/old-org/repo.git\nor new-org/repo.\n")
    project.commit("docs: references")
    project.push()

    result = project.cli("doctor", "--json")

    assert result.exit_code == 3
    found = [(f["id"], f["severity"], f["where"]) for f in result.json()["findings"]]
    assert found == [
        ("stale-ref.ghcr", "error", ".github/workflows/release.yml:6"),
        ("stale-ref.github", "warning", "README.md:1"),
    ]


def test_without_a_github_origin_the_search_says_why_it_was_skipped(project: Project) -> None:
    project.write("rcflow.toml", 'previous_names = ["old-org/repo"]\n')
    project.commit("chore: config")
    project.push()
    [finding] = project.cli("doctor", "--json").json()["findings"]
    assert (finding["id"], finding["severity"]) == ("stale-ref.unknown-name", "warning")


def test_release_workflow_findings(project: Project) -> None:
    project.write(
        ".github/workflows/release.yml",
        INJECTABLE_WORKFLOW,
    )
    project.commit("ci: release workflow")
    project.push()

    result = project.cli("doctor", "--json")

    assert result.exit_code == 3
    found = [(f["id"], f["where"]) for f in result.json()["findings"]]
    assert ("workflow.script-injection", ".github/workflows/release.yml:12") in found


# -- preflight before the mutating steps --------------------------------------------------------


def test_rc_is_refused_while_a_manifest_disagrees_and_a_waiver_is_recorded(
    make_project: Any,
) -> None:
    p = manifest_project(make_project, "v1.3.0")
    assert p.cli("bump", "minor").exit_code == 0
    p.write("deploy/kustomization.yaml", "images:\n  - name: app\n    newTag: v1.3.0\n")
    p.commit("chore: pin the old image again")
    p.push()
    world, ledger = p.world(), p.ledger()

    refused = p.cli("rc")

    assert refused.exit_code == 3
    assert "refused by preflight" in refused.stderr
    assert "version.mismatch" in refused.stderr and "deploy/kustomization.yaml:3" in refused.stderr
    assert (p.world(), p.ledger()) == (world, ledger)

    waived = p.cli("rc", "--skip-check", "version.mismatch")

    assert waived.exit_code == 0, waived.stderr
    assert "v1.4.0-rc.1" in p.remote_tags()
    [event] = [e for e in p.ledger() if e["kind"] == "check_waived"]
    assert event["key"] == "version.mismatch@deploy/kustomization.yaml:3"
    assert event["data"]["step"] == "rc"


def test_bump_is_refused_by_a_script_injection_in_the_release_workflow(project: Project) -> None:
    # A workflow that runs rcflow is part of every step.
    project.write(
        ".github/workflows/release.yml",
        INJECTABLE_WORKFLOW + "      - run: rcflow --yes status\n",
    )
    project.commit("ci: release workflow")
    project.push()

    refused = project.cli("bump", "--dry-run")

    assert refused.exit_code == 3
    assert "workflow.script-injection" in refused.stdout
    assert "write version" in refused.stdout  # the plan is shown with its blockers
    assert project.ledger() == []
    applied = project.cli("bump")
    assert applied.exit_code == 3
    assert "workflow.script-injection" in applied.stderr
    assert project.ledger() == []


def test_a_finding_in_a_workflow_the_release_does_not_start_does_not_block(
    project: Project,
) -> None:
    project.write(".github/workflows/manual.yml", INJECTABLE_WORKFLOW)
    project.commit("ci: a manual workflow")
    project.push()

    assert project.cli("doctor").exit_code == 3  # still reported
    planned = project.cli("bump", "--dry-run")

    assert planned.exit_code == 0, planned.stdout + planned.stderr
    assert "not blocking bump: workflow.script-injection" in planned.stdout
    assert project.cli("bump", "minor").exit_code == 0


def test_an_already_done_step_runs_no_preflight(project: Project) -> None:
    assert project.cli("bump", "minor").exit_code == 0
    assert project.cli("rc").exit_code == 0
    # An untracked workflow: not a change git status reports, but one doctor reads.
    project.write(
        ".github/workflows/x.yml",
        "on: workflow_dispatch\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.inputs.x }}"\n',
    )
    assert project.cli("doctor").exit_code == 3

    done = project.cli("rc")

    assert done.exit_code == 0
    assert "Already done" in done.stdout


# -- the pipeline alert issue (`doctor --alert`, the scheduled rcflow-doctor workflow) ----------

ALERT_TITLE = "rcflow: the release pipeline needs attention"
ALERT_CONFIG = "\n[notify]\nissue = true\n\n" + MANIFEST_CONFIG


def alert_project(make_github_project: Any, pin: str) -> tuple[Project, Any]:
    p, server = make_github_project(
        ALERT_CONFIG,
        files={"deploy/kustomization.yaml": f"images:\n  - name: app\n    newTag: {pin}\n"},
    )
    return p, server


def clone(p: Project, name: str) -> Project:
    """A fresh clone of the bare origin, as the scheduled job checks it out."""
    other = Project(p.base / name)
    git(p.base, "clone", "--quiet", str(p.origin), str(other.root))
    return other


def test_doctor_alert_opens_one_issue_updates_it_and_closes_it_when_clean(
    make_github_project: Any,
) -> None:
    p, server = alert_project(make_github_project, "v1.3.0-rc.2")

    first = p.cli("doctor", "--alert", "--json")
    assert first.exit_code == 3, first.stderr
    # The documented JSON document, unchanged by the alert.
    [finding] = first.json()["findings"]
    assert finding["id"] == "version.mismatch"
    [issue] = server.issues.values()
    assert (issue.title, issue.state, issue.comments) == (ALERT_TITLE, "open", [])
    assert "version.mismatch" in (issue.body or "")
    assert "deploy/kustomization.yaml:3" in (issue.body or "")
    assert "the pipeline alert issue lists 1 error(s)" in first.stderr

    # The next scheduled run, in a fresh checkout: the same issue, one comment more.
    again = clone(p, "second").cli("doctor", "--alert", "--json")
    assert again.exit_code == 3
    [issue] = server.issues.values()
    assert issue.state == "open" and len(issue.comments) == 1
    assert "version.mismatch" in issue.comments[0].body

    p.write("deploy/kustomization.yaml", "images:\n  - name: app\n    newTag: v1.3.0\n")
    p.commit("fix: pin the release")
    p.push()
    fresh = clone(p, "third")
    clean = fresh.cli("doctor", "--alert", "--json")
    assert clean.exit_code == 0, clean.stdout + clean.stderr
    assert clean.json() == {"findings": [], "errors": 0, "warnings": 0}
    [issue] = server.issues.values()
    assert issue.state == "closed" and len(issue.comments) == 2
    assert "finds no error" in issue.comments[1].body
    assert "closed the pipeline alert issue" in clean.stderr

    # Clean again: nothing to close, nothing opened.
    quiet = fresh.cli("doctor", "--alert")
    assert quiet.exit_code == 0
    assert len(server.issues) == 1 and len(issue.comments) == 2
    assert "nothing to do" in quiet.stderr + quiet.stdout


def test_doctor_without_alert_never_touches_issues(make_github_project: Any) -> None:
    p, server = alert_project(make_github_project, "v1.3.0-rc.2")
    assert p.cli("doctor", "--json").exit_code == 3
    assert server.issues == {}


def test_doctor_alert_is_refused_without_notify_issue_or_github(
    make_github_project: Any, make_project: Any
) -> None:
    p, server = make_github_project()
    refused = p.cli("doctor", "--alert")
    assert refused.exit_code == 2
    assert "[notify] issue" in refused.stderr
    assert server.issues == {}

    local = make_project()
    local.write("rcflow.toml", "[notify]\nissue = true\n")
    local.commit("chore: notify")
    local.push()
    refused = local.cli("doctor", "--alert")
    assert refused.exit_code == 2
    assert "github forge" in refused.stderr


def test_a_refused_alert_is_exit_1_after_the_findings(make_github_project: Any) -> None:
    p, server = alert_project(make_github_project, "v1.3.0-rc.2")
    server.fail_server_error("POST", r".*/issues$", times=10)
    result = p.cli("doctor", "--alert", "--json")
    assert result.exit_code == 1
    assert result.json()["errors"] == 1  # the findings were still reported
    assert "could not update the pipeline alert issue" in result.stderr
    assert server.issues == {}


def test_forge_github_without_a_github_remote_is_a_warning_and_the_rest_is_checked(
    make_project: Any, monkeypatch: Any
) -> None:
    """A clone off another host, outside GitHub Actions: doctor says the GitHub checks did not
    run (a warning), still finds what needs no GitHub, and a step refuses as before (exit 2)."""
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    p = manifest_project(make_project, "v1.3.0-rc.2")
    p.write("rcflow.toml", 'forge = "github"\n' + MANIFEST_CONFIG)
    p.commit("chore: releases on GitHub")
    p.push()

    result = p.cli("doctor", "--json")

    assert result.exit_code == 3, result.stdout  # the manifest's error, found all the same
    found = {(f["id"], f["severity"]) for f in result.json()["findings"]}
    assert found == {("version.mismatch", "error"), ("forge.github-unknown", "warning")}
    p.write("deploy/kustomization.yaml", "images:\n  - name: app\n    newTag: v1.3.0\n")
    p.commit("fix: the manifest")
    p.push()
    clean = p.cli("doctor", "--json")
    assert clean.exit_code == 0, clean.stdout
    assert clean.json()["warnings"] == 1 and clean.json()["errors"] == 0
    for refused in (p.cli("bump", "--yes"), p.cli("doctor", "--alert")):
        assert refused.exit_code == 2, refused.stdout + refused.stderr
        assert "cannot tell the repository" in refused.stderr


def test_doctor_looks_for_the_marker_init_writes() -> None:
    """doctor decides whether init's drift check has anything to compare without importing
    init: by the marker every file init writes starts with."""
    from rcflow.commands import doctor, init

    assert doctor._GENERATED == init.GENERATED_MARKER
