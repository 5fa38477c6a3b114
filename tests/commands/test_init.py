"""`rcflow init` through the CLI: writes the config and workflows once, never overwrites blindly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rcflow.cli.app import app
from rcflow.model.config import load_config
from tests.support.project import git

FILES = (
    "rcflow.toml",
    ".github/workflows/release.yml",
    ".github/workflows/rcflow-validate.yml",
    ".github/workflows/rcflow-doctor.yml",
)


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0.3.0"\n')
    return root


def init(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["init", *args, "-C", str(root)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def contents(root: Path) -> dict[str, str | None]:
    return {f: (root / f).read_text() if (root / f).exists() else None for f in FILES}


def test_init_in_a_repository_with_only_a_pyproject(tmp_path: Path) -> None:
    root = repo(tmp_path)

    code, out, _ = init(root, "--yes")

    assert code == 0
    assert all(v is not None for v in contents(root).values())
    config = load_config(root)
    assert [f.path for f in config.version_files] == ["pyproject.toml"]
    assert config.branch == "main"
    assert "Next steps:" in out


def test_init_twice_is_a_no_op(tmp_path: Path) -> None:
    root = repo(tmp_path)
    init(root, "--yes")
    before = contents(root)

    code, out, _ = init(root, "--yes")

    assert code == 0
    assert "Already done" in out
    assert contents(root) == before


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    root = repo(tmp_path)
    init(root, "--yes")
    # Replaced by a file of the project's own (no `written by rcflow init` line).
    validate = root / ".github/workflows/rcflow-validate.yml"
    validate.write_text("name: mine\n")
    before = contents(root)

    code, _, err = init(root, "--yes")

    assert code == 3
    assert ".github/workflows/rcflow-validate.yml exists with other content" in err
    assert contents(root) == before

    code, _, _ = init(root, "--yes", "--force")
    assert code == 0
    assert validate.read_text() != "name: mine\n"
    assert "workflow_dispatch" in validate.read_text()


def test_init_dry_run_writes_nothing_and_json_lists_the_plan(tmp_path: Path) -> None:
    root = repo(tmp_path)

    code, out, _ = init(root, "--dry-run", "--json")

    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "planned"
    assert [e["path"] for e in doc["plan"]["effects"]] == list(FILES)
    assert contents(root) == dict.fromkeys(FILES)


def test_init_takes_validations_as_flags(tmp_path: Path) -> None:
    root = repo(tmp_path)

    code, _, _ = init(
        root, "--yes", "--validate", "unit=pytest -q", "--validate", "lint=ruff check"
    )

    assert code == 0
    config = load_config(root)
    assert [(v.name, v.run) for v in config.validations] == [
        ("unit", "pytest -q"),
        ("lint", "ruff check"),
    ]


def test_init_rejects_a_malformed_validation_flag(tmp_path: Path) -> None:
    root = repo(tmp_path)
    code, _, err = init(root, "--yes", "--validate", "no-equals-sign")
    assert code == 2
    assert "expected NAME=COMMAND" in err
    assert contents(root) == dict.fromkeys(FILES)


def test_on_a_terminal_init_asks_for_the_branch_and_the_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcflow.cli.output import Output

    root = repo(tmp_path)
    (root / "tests").mkdir()
    asked: list[tuple[str, str]] = []
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "initial")
    git(root, "tag", "25.1")  # unprefixed release tags: the prefix question defaults to none
    answers = iter(["release", "-", "make check"])
    original_init = Output.__init__

    def terminal_init(self: Output, **kw: Any) -> None:
        original_init(self, **kw)
        self.interactive = True

    def ask(self: Output, question: str, default: str) -> str:
        asked.append((question, default))
        return next(answers)

    monkeypatch.setattr(Output, "__init__", terminal_init)
    monkeypatch.setattr(Output, "ask", ask)
    monkeypatch.setattr(Output, "confirm", lambda self, plan: True)

    code, _, _ = init(root)

    assert code == 0
    assert asked == [
        ("Release branch", "main"),
        ("Tag prefix (tags look like PREFIX1.4.0; '-' for none)", "-"),
        ("Command that validates an RC (empty: none)", "pytest -q"),
    ]
    config = load_config(root)
    assert config.branch == "release"
    assert config.tag_prefix == ""
    assert [(v.name, v.run) for v in config.validations] == [("tests", "make check")]


VALIDATE_WORKFLOW = ".github/workflows/rcflow-validate.yml"


def test_a_config_edit_then_init_updates_what_init_wrote(tmp_path: Path) -> None:
    root = repo(tmp_path)
    assert init(root, "--yes", "--validate", "unit=pytest -q")[0] == 0
    config = root / "rcflow.toml"
    config.write_text(config.read_text().replace('run = "pytest -q"', 'run = "make check"'))
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "rcflow")

    drift = CliRunner().invoke(app, ["doctor", "--json", "-C", str(root)])
    [finding] = [
        f
        for f in json.loads(drift.stdout)["findings"]
        if f["id"] == "init.drift" and f["where"] == VALIDATE_WORKFLOW
    ]
    assert "-          pytest -q" in finding["message"]
    assert "+          make check" in finding["message"]

    code, out, err = init(root, "--yes")

    assert code == 0, out + err
    assert f"updates {VALIDATE_WORKFLOW}" in out
    assert "make check" in (root / VALIDATE_WORKFLOW).read_text()
    assert init(root, "--yes")[1].startswith("Already done")
    again = CliRunner().invoke(app, ["doctor", "--json", "-C", str(root)])
    assert not [f for f in json.loads(again.stdout)["findings"] if f["id"] == "init.drift"]


def test_a_workflow_init_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    root = repo(tmp_path)
    own = "on: push\njobs: {}\n"
    (root / ".github/workflows").mkdir(parents=True)
    (root / ".github/workflows/release.yml").write_text(own)
    (root / VALIDATE_WORKFLOW).write_text(own)

    code, _, err = init(root, "--yes")

    assert code == 3
    assert f"{VALIDATE_WORKFLOW} exists with other content" in err
    assert (root / ".github/workflows/release.yml").read_text() == own
    assert not (root / "rcflow.toml").exists()


def test_no_workflows_and_a_workflow_name(tmp_path: Path) -> None:
    root = repo(tmp_path)
    code, out, _ = init(root, "--yes", "--no-workflows")
    assert code == 0
    assert (root / "rcflow.toml").is_file() and not (root / ".github").exists()
    assert "Commit rcflow.toml and push" in out

    (tmp_path / "b").mkdir()
    other = repo(tmp_path / "b")
    code, out, _ = init(other, "--yes", "--workflow-name", "ship.yml", "--setup", "make tools")
    assert code == 0
    assert (other / ".github/workflows/ship.yml").is_file()
    assert not (other / ".github/workflows/release.yml").exists()
    assert "gh workflow run ship.yml" in out
    assert "make tools" in (other / VALIDATE_WORKFLOW).read_text()
    # A re-run finds its workflow under that name.
    assert init(other, "--yes")[1].startswith("Already done")
    for bad in ("../x.yml", "rcflow-validate.yml", "x.txt"):
        assert init(other, "--yes", "--workflow-name", bad)[0] == 2


# -- how the workflows get rcflow: the action or a pinned requirement (issue 16) -----------------

SHA = "0123456789abcdef0123456789abcdef01234567"
DOCTOR_WORKFLOW = ".github/workflows/rcflow-doctor.yml"


def test_init_with_the_action_records_it_and_a_rerun_keeps_it(tmp_path: Path) -> None:
    root = repo(tmp_path)
    code, out, err = init(root, "--yes", "--action", f"acme/rcflow@{SHA}")
    assert code == 0, out + err
    assert load_config(root).action == f"acme/rcflow@{SHA}"
    for workflow in (".github/workflows/release.yml", DOCTOR_WORKFLOW):
        text = (root / workflow).read_text()
        assert f"uses: acme/rcflow@{SHA}\n" in text
        assert "pip install" not in text
    # The configuration is the authority on a re-run: nothing to change.
    assert init(root, "--yes")[1].startswith("Already done")


def test_init_with_a_pinned_vcs_requirement(tmp_path: Path) -> None:
    root = repo(tmp_path)
    requirement = f"rcflow @ git+https://github.com/acme/rcflow@{SHA}"
    code, out, err = init(root, "--yes", "--rcflow-requirement", requirement)
    assert code == 0, out + err
    assert load_config(root).rcflow_requirement == requirement
    for workflow in (".github/workflows/release.yml", DOCTOR_WORKFLOW):
        assert f"RCFLOW_REQUIREMENT: {json.dumps(requirement)}\n" in (root / workflow).read_text()
    assert init(root, "--yes")[1].startswith("Already done")


@pytest.mark.parametrize(
    "args",
    [
        ("--action", "acme/rcflow@v1"),
        ("--action", "acme/rcflow@main"),
        ("--action", "acme/rcflow"),
        ("--rcflow-requirement", "rcflow"),
        ("--rcflow-requirement", "git+https://github.com/acme/rcflow@main"),
        ("--rcflow-requirement", "rcflow==1.0 --index-url http://evil"),
    ],
)
def test_an_unpinned_source_is_refused_and_nothing_is_written(
    tmp_path: Path, args: tuple[str, str]
) -> None:
    root = repo(tmp_path)
    code, _, err = init(root, "--yes", *args)
    assert code == 2
    assert err.count("\n") == 1 and args[0] in err
    assert contents(root) == dict.fromkeys(FILES)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('action = "acme/rcflow@v1.2.0"', "full 40-character commit sha"),
        ('action = "acme/rcflow@' + SHA[:12] + '"', "full 40-character commit sha"),
        ('action = "rcflow"', "not OWNER/REPO@SHA"),
        ("action = 1", "expected a string"),
        ('rcflow_requirement = "rcflow>=0.1"', "not pinned"),
        ('rcflow_requirement = "git+https://github.com/acme/rcflow"', "not pinned"),
        ('actions = "acme/rcflow@' + SHA + '"', "unknown key 'actions'"),
    ],
)
def test_a_bad_source_in_the_config_is_a_config_error(
    tmp_path: Path, line: str, message: str
) -> None:
    root = repo(tmp_path)
    (root / "rcflow.toml").write_text(line + "\n")
    code, _, err = init(root, "--yes")
    assert code == 2
    assert message in err and err.startswith("error: rcflow.toml")
    assert not (root / ".github").exists()
    doctor = CliRunner().invoke(app, ["doctor", "-C", str(root)])
    assert doctor.exit_code == 2


def test_the_doctor_workflow_is_covered_by_drift_detection(tmp_path: Path) -> None:
    root = repo(tmp_path)
    assert init(root, "--yes")[0] == 0
    doctor = root / DOCTOR_WORKFLOW
    assert "written by `rcflow init`" in doctor.read_text().splitlines()[0]
    # The action configured later: the workflow must now use it.
    config = root / "rcflow.toml"
    config.write_text(f'action = "acme/rcflow@{SHA}"\n' + config.read_text())
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "rcflow")
    drift = CliRunner().invoke(app, ["doctor", "--json", "-C", str(root)])
    [finding] = [
        f
        for f in json.loads(drift.stdout)["findings"]
        if f["id"] == "init.drift" and f["where"] == DOCTOR_WORKFLOW
    ]
    assert "differs from what `rcflow init` generates" in finding["message"]
    code, out, _ = init(root, "--yes")
    assert code == 0 and f"updates {DOCTOR_WORKFLOW}" in out
    assert f"uses: acme/rcflow@{SHA}" in doctor.read_text()
    assert init(root, "--yes")[1].startswith("Already done")


def test_notify_issue_without_the_github_forge_asks_for_no_issue_permission(
    tmp_path: Path,
) -> None:
    root = repo(tmp_path)
    (root / "rcflow.toml").write_text('forge = "local"\n\n[notify]\nissue = true\n')
    assert init(root, "--yes")[0] == 0
    doctor = (root / DOCTOR_WORKFLOW).read_text()
    assert "issues: write" not in doctor and 'ALERT: "false"' in doctor
