"""`rcflow init` through the CLI: writes the config and workflows once, never overwrites blindly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rcflow.cli import app
from rcflow.config import load_config
from tests.conftest import git

FILES = ("rcflow.toml", ".github/workflows/release.yml", ".github/workflows/rcflow-validate.yml")


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
    from rcflow.output import Output

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
