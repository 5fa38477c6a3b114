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
    release = root / ".github/workflows/release.yml"
    release.write_text("name: mine\n")
    before = contents(root)

    code, _, err = init(root, "--yes")

    assert code == 3
    assert ".github/workflows/release.yml exists with other content" in err
    assert contents(root) == before

    code, _, _ = init(root, "--yes", "--force")
    assert code == 0
    assert release.read_text() != "name: mine\n"
    assert "workflow_dispatch" in release.read_text()


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
    answers = iter(["release", "make check"])
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
        ("Command that validates an RC (empty: none)", "pytest -q"),
    ]
    config = load_config(root)
    assert config.branch == "release"
    assert [(v.name, v.run) for v in config.validations] == [("tests", "make check")]
