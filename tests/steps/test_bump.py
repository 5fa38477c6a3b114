"""bump: the target version in every version file, one commit, pushed, recorded — and only once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from rcflow.commands import run as commands
from rcflow.errors import RcflowError
from rcflow.steps.bump import BumpArgs
from tests.support.crash import Attempt, Crash, count_writes, crash_each_write
from tests.support.ledger import events, held_lease
from tests.support.project import Hooks, Project, assert_refused, git

MakeProject = Callable[..., Project]

PYPROJECT = '[project]\nname = "demo"\nversion = "{}"\n'


def bump_subject(version: str) -> str:
    return f"chore(release): bump version to {version}"


def origin_log(p: Project, ref: str = "main") -> list[str]:
    return git(p.origin, "log", "--format=%s", ref).splitlines()


def origin_head(p: Project, ref: str = "main") -> str:
    return git(p.origin, "rev-parse", ref)


def changed_in_head(p: Project) -> list[str]:
    return p.git("show", "--format=", "--name-only", "HEAD").splitlines()


def add_commit(p: Project, message: str, *, path: str = "work.txt", push: bool = True) -> str:
    """One more commit (touching `path`), pushed unless told otherwise."""
    existing = (p.root / path).read_text(encoding="utf-8") if (p.root / path).exists() else ""
    p.write(path, existing + message + "\n")
    sha = p.commit(message)
    if push:
        p.push()
    return sha


def retag_final_at_head(p: Project, version: str) -> None:
    """Move the final tag to HEAD, so the commits made afterwards are all that is releasable."""
    tag = f"v{version}"
    p.git("tag", "--force", "-a", tag, "-m", f"Release {version}")
    p.git("push", "--quiet", "--force", "origin", f"refs/tags/{tag}")


def push_from_other_clone(p: Project, message: str) -> str:
    """Someone else pushes a commit to origin's main."""
    other = p.base / "other"
    git(p.base, "clone", "--quiet", str(p.origin), str(other))
    (other / "theirs.txt").write_text("theirs\n", encoding="utf-8")
    git(other, "add", "theirs.txt")
    git(other, "commit", "--quiet", "-m", message)
    git(other, "push", "--quiet", "origin", "main")
    return git(other, "rev-parse", "HEAD")


# -- happy paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ("major", "2.0.0"),
        ("minor", "1.4.0"),
        ("patch", "1.3.1"),
        ("auto", "1.4.0"),  # one feat commit since v1.3.0
        ("1.5.0", "1.5.0"),
        ("3.0.0", "3.0.0"),
    ],
)
def test_bump_writes_commits_pushes_and_records(
    project: Project, request_: str, expected: str
) -> None:
    feat = project.head()
    result = project.cli("bump", request_)
    assert result.exit_code == 0, result.stderr

    assert project.read("pyproject.toml") == PYPROJECT.format(expected)
    head = project.head()
    assert project.git("rev-parse", "HEAD^") == feat
    assert project.git("log", "-1", "--format=%B", "HEAD").strip() == (
        f"{bump_subject(expected)}\n\nPrevious-version: 1.3.0"
    )
    assert changed_in_head(project) == ["pyproject.toml"]
    assert project.git("status", "--porcelain") == ""
    assert project.git("symbolic-ref", "--short", "HEAD") == "main"

    assert origin_head(project) == head
    assert origin_log(project) == [
        bump_subject(expected),
        "feat: add a feature",
        "feat: initial release",
    ]
    # bump creates no tag: v1.3.0 is all there is, here and on origin
    assert set(project.remote_tags()) == {"v1.3.0"}
    assert set(project.local_tags()) == {"v1.3.0"}

    assert project.kinds() == ["bumped"]
    (bumped,) = events(project, "bumped")
    assert bumped["key"] == expected
    assert bumped["data"] == {
        "from": "1.3.0",
        "to": expected,
        "request": request_,
        "adopted": False,
        "head": head,
    }
    assert bumped["actor"] == "Test Maintainer <maintainer@example.invalid>"
    # the lease was taken before the first effect and given back after the last
    assert [e["kind"] for e in project.ledger()] == ["lease_acquired", "bumped", "lease_released"]
    assert project.ledger()[0]["data"]["command"] == "bump"

    status = project.status()
    assert (status["state"], status["target"], status["files_version"]) == (
        "bumped",
        expected,
        expected,
    )
    assert status["lease"] is None


def test_bump_through_run_step_reports_each_effect(project: Project) -> None:
    result = project.step("bump", BumpArgs("minor"))
    assert result.status == "applied"
    assert [(type(a.effect).__name__, a.outcome.split(":")[0]) for a in result.applied] == [
        ("WriteVersionFiles", "done"),
        ("Commit", "done"),
        ("PushBranch", "done"),
        ("RecordEvent", "done"),
    ]
    assert result.release.state.value == "bumped"
    assert str(result.release.target) == "1.4.0"


@pytest.mark.parametrize(
    ("version", "messages", "expected"),
    [
        ("1.3.0", ["fix: a bug"], "1.3.1"),
        ("1.3.0", ["perf: faster"], "1.3.1"),
        ("1.3.0", ["fix(core): a bug", "feat: a thing", "docs: words"], "1.4.0"),
        ("1.3.0", ["feat!: drop python 3.8"], "2.0.0"),
        ("1.3.0", ["refactor(api)!: rename everything"], "2.0.0"),
        ("1.3.0", ["fix: a bug\n\nBREAKING CHANGE: the old flag is gone"], "2.0.0"),
        ("1.3.0", ["feat: a thing\n\nBREAKING-CHANGE: config moved"], "2.0.0"),
        ("1.3.0", ["chore: tidy", "fix: a bug", "feat: new"], "1.4.0"),
        ("1.3.0", ["Merge branch 'x'", "fix: a bug"], "1.3.1"),
        # not a footer: the token must be upper case at the start of a line
        ("1.3.0", ["fix: a bug\n\nmentions breaking change: in prose"], "1.3.1"),
        # 0.x: a breaking change bumps minor, everything else as usual
        ("0.3.0", ["feat!: drop everything"], "0.4.0"),
        ("0.3.0", ["fix: x\n\nBREAKING CHANGE: y"], "0.4.0"),
        ("0.3.0", ["feat: a thing"], "0.4.0"),
        ("0.3.0", ["fix: a bug"], "0.3.1"),
        ("0.3.2", ["feat!: big", "fix: small"], "0.4.0"),
    ],
)
def test_auto_rules(
    make_project: MakeProject, version: str, messages: list[str], expected: str
) -> None:
    p = make_project(version=version)
    retag_final_at_head(p, version)
    for i, message in enumerate(messages):
        add_commit(p, message, path=f"change{i}.txt")
    result = p.cli("bump", "auto")
    assert result.exit_code == 0, result.stderr
    assert p.read("pyproject.toml") == PYPROJECT.format(expected)
    assert origin_log(p)[0] == bump_subject(expected)
    assert len(origin_log(p)) == 2 + 1 + len(messages)  # initial, feature, the new ones, bump
    (bumped,) = events(p, "bumped")
    assert (bumped["key"], bumped["data"]["from"], bumped["data"]["request"]) == (
        expected,
        version,
        "auto",
    )


def test_auto_with_nothing_releasable_is_a_noop(make_project: MakeProject) -> None:
    p = make_project()
    retag_final_at_head(p, "1.3.0")
    add_commit(p, "docs: explain things")
    add_commit(p, "chore: tidy up")
    world, ledger = p.world(), p.ledger()
    result = p.cli("bump", "auto")
    assert result.exit_code == 0, result.stderr
    assert "Already done" in result.stdout
    assert "no feat, fix or breaking commits since 1.3.0" in result.stdout
    assert p.world() == world
    assert p.ledger() == ledger == []


def test_auto_ignores_commits_before_the_last_final(make_project: MakeProject) -> None:
    """Only commits since the newest final count: an old `feat!` does not make 2.0.0 again."""
    p = make_project()
    add_commit(p, "feat!: an old breaking change")
    p.write("pyproject.toml", PYPROJECT.format("1.4.0"))
    p.commit("chore: release 1.4.0")
    p.git("tag", "-a", "v1.4.0", "-m", "Release 1.4.0")
    p.git("push", "--quiet", "origin", "main", "v1.4.0")
    add_commit(p, "fix: after 1.4.0")
    assert p.cli("bump", "auto").exit_code == 0
    assert p.read("pyproject.toml") == PYPROJECT.format("1.4.1")


# -- idempotency and dry runs ------------------------------------------------------------------


@pytest.mark.parametrize("request_", ["auto", "minor", "1.4.0"])
def test_second_run_is_a_noop(project: Project, request_: str) -> None:
    assert project.cli("bump", request_).exit_code == 0
    world, ledger = project.world(), project.ledger()
    again = project.cli("bump", request_)
    assert again.exit_code == 0, again.stderr
    assert "Already done" in again.stdout
    assert "the version files already say 1.4.0 and origin has the commit" in again.stdout
    assert project.world() == world
    assert project.ledger() == ledger


def test_same_target_by_another_request_is_a_noop(project: Project) -> None:
    """auto, minor and 1.4.0 all mean 1.4.0 here: asking again in other words changes nothing."""
    assert project.cli("bump", "auto").exit_code == 0
    world, ledger = project.world(), project.ledger()
    for request_ in ("minor", "1.4.0", "auto"):
        again = project.cli("bump", request_)
        assert again.exit_code == 0, (request_, again.stderr)
        assert "Already done" in again.stdout, request_
    assert project.world() == world
    assert project.ledger() == ledger


def test_second_run_through_run_step_plans_nothing(project: Project) -> None:
    project.step("bump", BumpArgs("auto"))
    again = project.step("bump", BumpArgs("auto"))
    assert again.status == "done"
    assert again.plan.effects == ()
    assert again.applied == []


def test_rebump_before_any_rc_moves_the_target(project: Project) -> None:
    """While only bumped (no RC yet), bumping to another version is allowed: one more commit."""
    assert project.cli("bump", "minor").exit_code == 0
    first = project.head()
    assert project.cli("bump", "major").exit_code == 0
    assert project.read("pyproject.toml") == PYPROJECT.format("2.0.0")
    assert project.git("rev-parse", "HEAD^") == first
    assert origin_log(project)[:2] == [bump_subject("2.0.0"), bump_subject("1.4.0")]
    assert [e["key"] for e in events(project, "bumped")] == ["1.4.0", "2.0.0"]
    assert events(project, "bumped")[1]["data"]["from"] == "1.4.0"
    assert project.status()["target"] == "2.0.0"


@pytest.mark.parametrize("request_", ["auto", "major", "patch", "2.5.0"])
def test_dry_run_changes_nothing(project: Project, request_: str) -> None:
    world, ledger = project.world(), project.ledger()
    result = project.cli("bump", request_, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Dry run: nothing was changed." in result.stdout
    assert "write version" in result.stdout
    assert project.world() == world
    assert project.ledger() == ledger == []


def test_dry_run_plan_lists_the_effects(project: Project) -> None:
    world = project.world()
    result = project.step("bump", BumpArgs("auto"), dry_run=True)
    assert result.status == "planned"
    assert [e.describe() for e in result.plan.effects] == [
        "write version 1.4.0 into pyproject.toml",
        "commit pyproject.toml: chore(release): bump version to 1.4.0",
        "push main to origin",
        "record bumped 1.4.0 in the ledger",
    ]
    assert project.world() == world
    assert project.ledger() == []


def test_dry_run_json_is_one_document(project: Project) -> None:
    world = project.world()
    result = project.cli("bump", "auto", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert isinstance(doc, dict)
    assert project.world() == world
    assert project.ledger() == []


# -- refusals ------------------------------------------------------------------------------------


def test_refuses_a_dirty_tree(project: Project) -> None:
    project.write("feature.py", "def feature():\n    return 43\n")
    assert_refused(project, ("bump", "auto"), "uncommitted changes in feature.py")


def test_refuses_a_user_edit_of_the_version_file(project: Project) -> None:
    """A hand edit of pyproject.toml is not rcflow's unfinished work: refuse, keep it."""
    project.write("pyproject.toml", PYPROJECT.format("1.3.0") + "# my edit\n")
    assert_refused(project, ("bump", "auto"), "uncommitted changes in pyproject.toml")
    assert project.read("pyproject.toml").endswith("# my edit\n")


def test_refuses_the_wrong_branch(project: Project) -> None:
    project.git("switch", "--quiet", "-c", "topic")
    assert_refused(project, ("bump", "auto"), "on topic, not the release branch main")


def test_refuses_a_detached_head(project: Project) -> None:
    project.git("switch", "--quiet", "--detach", "HEAD")
    assert_refused(project, ("bump", "auto"), "on a detached HEAD, not the release branch main")


def test_refuses_when_origin_is_ahead(project: Project) -> None:
    theirs = push_from_other_clone(project, "fix: someone else's fix")
    assert_refused(project, ("bump", "auto"), "origin/main has commits this clone lacks")
    assert origin_head(project) == theirs
    assert origin_log(project)[0] == "fix: someone else's fix"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ("1.2.0", "target 1.2.0 is not greater than the last release 1.3.0"),
        ("1.3.0", "target 1.3.0 is not greater than the last release 1.3.0"),
        ("0.9.9", "target 0.9.9 is not greater than the last release 1.3.0"),
    ],
)
def test_refuses_a_target_not_above_the_last_final(
    project: Project, request_: str, message: str
) -> None:
    assert_refused(project, ("bump", request_), message)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ("1.4.0-rc.1", "a bump target must be a final version, not '1.4.0-rc.1'"),
        ("banana", "not a version or part: 'banana'"),
    ],
)
def test_rejects_a_request_that_is_no_version(
    project: Project, request_: str, message: str
) -> None:
    world = project.world()
    result = project.cli("bump", request_)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert project.world() == world
    assert project.ledger() == []


def test_refuses_another_target_while_an_rc_is_in_flight(project: Project) -> None:
    assert project.cli("bump", "auto").exit_code == 0
    assert project.cli("rc").exit_code == 0
    assert_refused(project, ("bump", "major"), "v1.4.0-rc.1 is in flight")
    assert_refused(project, ("bump", "1.5.0"), "v1.4.0-rc.1 is in flight")
    # the same target is simply done
    world, ledger = project.world(), project.ledger()
    same = project.cli("bump", "minor")
    assert same.exit_code == 0, same.stderr
    assert "Already done" in same.stdout
    assert (project.world(), project.ledger()) == (world, ledger)


def test_refusal_reports_every_blocker_at_once(project: Project) -> None:
    project.git("switch", "--quiet", "-c", "topic")
    project.write("feature.py", "changed\n")
    world = project.world()
    result = project.cli("bump", "auto")
    assert result.exit_code == 3
    assert "uncommitted changes in feature.py" in result.stderr
    assert "on topic, not the release branch main" in result.stderr
    assert project.world() == world
    assert project.ledger() == []


# -- changelog -----------------------------------------------------------------------------------


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_changelog_is_created_in_the_bump_commit(make_project: MakeProject) -> None:
    p = make_project(config='changelog = "CHANGELOG.md"\n')
    feat = p.head()
    assert p.cli("bump", "auto").exit_code == 0
    assert sorted(changed_in_head(p)) == ["CHANGELOG.md", "pyproject.toml"]
    assert p.git("rev-parse", "HEAD^") == feat
    assert p.read("CHANGELOG.md") == (
        "# Changelog\n\nAll notable changes to this project are documented here. The format "
        "follows [Keep a Changelog](https://keepachangelog.com/en/1.1.0/).\n\n"
        f"## [1.4.0] - {today()}\n\n### Added\n\n- add a feature ({feat[:7]})\n"
    )
    assert p.read("pyproject.toml") == PYPROJECT.format("1.4.0")
    assert origin_log(p)[:2] == [bump_subject("1.4.0"), "feat: add a feature"]
    assert p.git("show", "origin/main:CHANGELOG.md") == p.read("CHANGELOG.md").rstrip("\n")

    world, ledger = p.world(), p.ledger()
    again = p.cli("bump", "auto")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert (p.world(), p.ledger()) == (world, ledger)


def test_changelog_section_goes_below_unreleased_and_above_older_releases(
    make_project: MakeProject,
) -> None:
    p = make_project(config='changelog = "CHANGELOG.md"\n')
    existing = (
        "# Changelog\n\nNotes by hand.\n\n## [Unreleased]\n\n- pending work\n\n"
        "## [1.3.0] - 2024-01-02\n\n### Added\n\n- the first thing\n"
    )
    p.write("CHANGELOG.md", existing)
    p.commit("docs: changelog")
    fix = add_commit(p, "fix(cli): a crash\n\nBREAKING CHANGE: the --old flag is gone")
    p.push()
    assert p.cli("bump", "auto").exit_code == 0
    assert p.read("pyproject.toml") == PYPROJECT.format("2.0.0")
    text = p.read("CHANGELOG.md")
    feat = p.git("rev-parse", "HEAD~3")
    assert text == (
        "# Changelog\n\nNotes by hand.\n\n## [Unreleased]\n\n- pending work\n\n"
        f"## [2.0.0] - {today()}\n\n"
        "### ⚠ BREAKING CHANGES\n\n"
        f"- **cli:** the --old flag is gone ({fix[:7]})\n\n"
        f"### Added\n\n- add a feature ({feat[:7]})\n\n"
        f"### Fixed\n\n- **cli:** a crash ({fix[:7]})\n\n"
        f"### Documentation\n\n- changelog ({p.git('rev-parse', 'HEAD~2')[:7]})\n"
        "\n## [1.3.0] - 2024-01-02\n\n### Added\n\n- the first thing\n"
    )
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## [Unreleased]", f"## [2.0.0] - {today()}", "## [1.3.0] - 2024-01-02"]
    assert sorted(changed_in_head(p)) == ["CHANGELOG.md", "pyproject.toml"]


# -- several version files -----------------------------------------------------------------------

MULTI_CONFIG = """\
[[version_file]]
path = "pyproject.toml"

[[version_file]]
path = "package.json"

[[version_file]]
path = "deploy/kustomization.yaml"
pattern = 'newTag: (?P<version>\\S+)'
spelling = "tag"
"""

PYPROJECT_RICH = """\
# The demo project.
[project]
name = "demo"
version = "{}"  # managed by rcflow
dependencies = [
    "requests>=2",  # http
]

[tool.other]
version = "9.9.9"
"""

PACKAGE_JSON = """\
{{
  "name": "demo",
  "version": "{}",
  "private": true,
  "devDependencies": {{ "left-pad": "1.3.0" }}
}}
"""

KUSTOMIZATION = """\
# Image pins for the demo deployment.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: ghcr.io/acme/demo
    newTag: {}   # the app image
  - name: ghcr.io/acme/sidecar
    digest: sha256:0000
"""


def multi_project(make_project: MakeProject) -> Project:
    p = make_project(config=MULTI_CONFIG)
    p.write("pyproject.toml", PYPROJECT_RICH.format("1.3.0"))
    p.write("package.json", PACKAGE_JSON.format("1.3.0"))
    p.write("deploy/kustomization.yaml", KUSTOMIZATION.format("v1.3.0"))
    p.commit("chore: version files")
    p.push()
    return p


def test_every_version_file_is_updated_in_one_commit(make_project: MakeProject) -> None:
    p = multi_project(make_project)
    before = p.head()
    result = p.cli("bump", "auto")
    assert result.exit_code == 0, result.stderr
    assert p.read("pyproject.toml") == PYPROJECT_RICH.format("1.4.0")
    assert p.read("package.json") == PACKAGE_JSON.format("1.4.0")
    assert p.read("deploy/kustomization.yaml") == KUSTOMIZATION.format("v1.4.0")
    assert sorted(changed_in_head(p)) == [
        "deploy/kustomization.yaml",
        "package.json",
        "pyproject.toml",
    ]
    assert p.git("rev-parse", "HEAD^") == before
    assert origin_head(p) == p.head()
    assert origin_log(p)[0] == bump_subject("1.4.0")
    assert p.kinds() == ["bumped"]
    status = p.status()
    assert (status["state"], status["target"], status["problems"]) == ("bumped", "1.4.0", [])

    world, ledger = p.world(), p.ledger()
    again = p.cli("bump", "auto")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert (p.world(), p.ledger()) == (world, ledger)


def test_a_file_that_disagrees_is_reported_and_nothing_half_written(
    make_project: MakeProject,
) -> None:
    """All files change or none: a stale pin is rewritten along with the rest."""
    p = make_project(config=MULTI_CONFIG)
    p.write("pyproject.toml", PYPROJECT_RICH.format("1.3.0"))
    p.write("package.json", PACKAGE_JSON.format("1.3.0"))
    p.write("deploy/kustomization.yaml", KUSTOMIZATION.format("v1.2.0"))
    p.commit("chore: version files")
    p.push()
    status = p.status()
    assert any("deploy/kustomization.yaml" in problem for problem in status["problems"])
    assert p.cli("bump", "auto").exit_code == 0
    assert p.read("deploy/kustomization.yaml") == KUSTOMIZATION.format("v1.4.0")
    assert p.read("package.json") == PACKAGE_JSON.format("1.4.0")
    assert p.status()["problems"] == []


# -- no release yet ------------------------------------------------------------------------------


def test_first_release_without_tags(make_project: MakeProject) -> None:
    p = make_project(version="0.1.0", tag=False)
    status = p.status()
    assert (status["state"], status["target"], status["version"]) == ("bumped", "0.1.0", None)

    first = p.cli("bump", "minor")
    assert first.exit_code == 0, first.stderr
    assert p.read("pyproject.toml") == PYPROJECT.format("0.2.0")
    assert origin_log(p) == [bump_subject("0.2.0"), "feat: add a feature", "feat: initial release"]
    (bumped,) = events(p, "bumped")
    assert bumped["data"]["from"] == "0.1.0"
    assert bumped["data"]["to"] == "0.2.0"
    assert p.status()["target"] == "0.2.0"

    world, ledger = p.world(), p.ledger()
    again = p.cli("bump", "minor")
    assert again.exit_code == 0, again.stderr
    assert "Already done" in again.stdout
    assert (p.world(), p.ledger()) == (world, ledger)


def test_first_release_explicit_version_without_tags(make_project: MakeProject) -> None:
    p = make_project(version="0.1.0", tag=False)
    assert p.cli("bump", "1.0.0").exit_code == 0
    assert p.read("pyproject.toml") == PYPROJECT.format("1.0.0")
    world = p.world()
    assert p.cli("bump", "1.0.0").exit_code == 0
    assert p.world() == world


# -- crash and resume ----------------------------------------------------------------------------


def tracked_texts(p: Project, feat: str) -> dict[str, str]:
    """Every tracked file, with the feat commit's short sha (in a changelog) made comparable."""
    return {
        path: p.read(path).replace(feat[:7], "<feat>") for path in p.git("ls-files").splitlines()
    }


def crash_and_resume(
    make_project: MakeProject, args: BumpArgs, *, only: range | None = None, **kw: Any
) -> list[tuple[int, str | None]]:
    """Fail each port write in turn, re-run, compare with an uninterrupted run on a twin."""
    twin = make_project(**kw)
    twin_feat = twin.head()
    writes = count_writes(twin, "bump", args)
    expected_files = tracked_texts(twin, twin_feat)
    expected_log = origin_log(twin)
    (twin_bumped,) = events(twin, "bumped")

    crashes: list[tuple[int, str | None]] = []

    def resume(crash: Attempt) -> None:
        k, p, where = crash.k, crash.project, crash.where
        crashes.append((k, crash.failed_call))
        feat = feats[p.base.name]
        resumed = p.step("bump", args)
        assert resumed.status in ("applied", "done"), where

        assert tracked_texts(p, feat) == expected_files, where
        assert origin_log(p) == expected_log, where
        assert origin_head(p) == p.head(), where
        assert p.git("rev-parse", "HEAD^") == feat, where
        assert p.git("status", "--porcelain") == "", where
        ledger = p.ledger()
        assert [
            e["kind"] for e in ledger if not e["kind"].startswith(("lease_", "step_failed"))
        ] == ["bumped"]
        (bumped,) = (e for e in ledger if e["kind"] == "bumped")
        assert bumped["key"] == twin_bumped["key"], where
        assert bumped["data"]["head"] == p.head(), where
        assert {key: v for key, v in bumped["data"].items() if key != "head"} == {
            key: v for key, v in twin_bumped["data"].items() if key != "head"
        }, where
        # The release rides with the branch's push: whenever that push failed, the failure
        # path released the lease (and nothing of the bump was recorded); once it landed, so
        # did the release.
        assert held_lease(ledger) is None, where
        # and one more run changes nothing
        again = p.step("bump", args)
        assert (again.status, again.snapshot.head) == ("done", p.head()), where

    feats: dict[str, str] = {}

    def start(name: str) -> Project:
        p = make_project(**kw)
        feats[p.base.name] = p.head()
        return p

    crash_each_write(
        start,
        "bump",
        args,
        resume,
        writes=len(writes),
        only=only,
        tolerate=(RcflowError,),
        limit=40,
    )
    return crashes


def test_crash_after_every_write_then_resume(make_project: MakeProject) -> None:
    crashes = crash_and_resume(make_project, BumpArgs("auto"))
    called = [name for _, name in crashes]
    # lease (3 writes: before the files, it is on the remote), files, commit, the event's
    # commit, the lease's release, then one push of the branch with both (2)
    assert called == [
        "commit_tree_files",
        "push",
        "update_ref",
        "write_files",
        "commit",
        "commit_tree_files",
        "commit_tree_files",
        "push",
        "update_ref",
    ]


def test_crash_and_resume_with_a_changelog(make_project: MakeProject) -> None:
    """From the files' write to the event: the changelog section is written exactly once."""
    crashes = crash_and_resume(
        make_project, BumpArgs("auto"), only=range(3, 10), config='changelog = "CHANGELOG.md"\n'
    )
    assert [name for _, name in crashes] == [
        "write_files",
        "commit",
        "commit_tree_files",
        "commit_tree_files",
        "push",
        "update_ref",
    ]


def test_crash_and_resume_before_the_first_release(make_project: MakeProject) -> None:
    """Without a final tag the ledger's `from` is what keeps a repeated bump from bumping twice."""
    crash_and_resume(make_project, BumpArgs("minor"), version="0.1.0", tag=False)


def test_resume_after_commit_but_before_push(project: Project) -> None:
    """The bump commit made but not pushed: the re-run pushes it and records it as ours."""
    # lease (3), write, commit, the event and the release (2); their push with the branch fails
    ctx, failing = project.failing_ctx(after=7)
    with pytest.raises(Crash):
        commands.run_step(ctx, "bump", BumpArgs("auto"), dry_run=False, hooks=Hooks())
    assert failing.failed_call == "push"
    assert project.git("log", "-1", "--format=%s") == bump_subject("1.4.0")
    assert origin_log(project)[0] == "feat: add a feature"
    assert project.kinds() == []
    dry = project.step("bump", BumpArgs("auto"), dry_run=True)
    assert [e.describe() for e in dry.plan.effects] == [
        "push main to origin",
        "record bumped 1.4.0 in the ledger",
    ]
    assert project.step("bump", BumpArgs("auto")).status == "applied"
    assert origin_log(project)[0] == bump_subject("1.4.0")
    (bumped,) = events(project, "bumped")
    assert bumped["data"]["adopted"] is False
    assert bumped["data"]["head"] == project.head()


def test_resume_after_write_before_commit_is_not_a_dirty_tree(project: Project) -> None:
    ctx, failing = project.failing_ctx(after=4)  # lease (3), write; the commit fails
    with pytest.raises(Crash):
        commands.run_step(ctx, "bump", BumpArgs("auto"), dry_run=False, hooks=Hooks())
    assert failing.failed_call == "commit"
    assert project.git("status", "--porcelain") == "M pyproject.toml"
    result = project.cli("bump", "auto")
    assert result.exit_code == 0, result.stderr
    assert project.read("pyproject.toml") == PYPROJECT.format("1.4.0")
    assert origin_log(project)[:2] == [bump_subject("1.4.0"), "feat: add a feature"]
