"""Release notes: grouped by conventional-commit type, from a template a repository can override."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

from rcflow.commands.init import render
from rcflow.model.conventional import Commit
from rcflow.model.notes import render_notes
from rcflow.model.version import parse

COMMITS = (
    Commit("a" * 40, "feat(api)!: drop v1", "BREAKING CHANGE: clients must use /v2"),
    Commit("b" * 40, "fix: handle empty input"),
    Commit("c" * 40, "chore(release): bump version to 1.4.0"),
    Commit("d" * 40, "docs: explain retries"),
    Commit("e" * 40, "Merge branch 'x'"),
)


def test_rc_notes_group_commits_and_warn_it_is_a_candidate(tmp_path: Path) -> None:
    text = render_notes(
        partial(render, root=tmp_path),
        COMMITS,
        version=parse("1.4.0-rc.2"),
        tag="v1.4.0-rc.2",
        previous_tag="v1.3.0",
        prerelease=True,
    )
    assert text == (
        "Release candidate **v1.4.0-rc.2** of 1.4.0: not for production until it is promoted.\n"
        "\n"
        "### ⚠ BREAKING CHANGES\n\n- **api:** clients must use /v2 (aaaaaaa)\n\n"
        "### Added\n\n- **api:** drop v1 (aaaaaaa)\n\n"
        "### Fixed\n\n- handle empty input (bbbbbbb)\n\n"
        "### Documentation\n\n- explain retries (ddddddd)\n\n"
        "### Other\n\n- Merge branch 'x' (eeeeeee)\n"
    )


def test_a_final_without_notable_changes(tmp_path: Path) -> None:
    text = render_notes(
        partial(render, root=tmp_path),
        (COMMITS[2],),
        version=parse("1.4.1"),
        tag="v1.4.1",
        previous_tag="v1.4.0",
        prerelease=False,
    )
    assert text == "No notable changes since v1.4.0.\n"


def test_the_repository_overrides_the_template(tmp_path: Path) -> None:
    override = tmp_path / ".rcflow" / "templates" / "release-notes.md.j2"
    override.parent.mkdir(parents=True)
    override.write_text(
        "{{ tag }} ({{ final }}){% for heading, entries in sections %}|{{ heading }}:"
        "{{ entries | length }}{% endfor %}\n",
        encoding="utf-8",
    )
    text = render_notes(
        partial(render, root=tmp_path),
        COMMITS,
        version=parse("1.4.0"),
        tag="v1.4.0",
        previous_tag=None,
        prerelease=False,
    )
    assert text == "v1.4.0 (1.4.0)|⚠ BREAKING CHANGES:1|Added:1|Fixed:1|Documentation:1|Other:1\n"


def test_status_help_does_not_import_pygithub_or_jinja() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rcflow", "status", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "github" not in imported and "jinja2" not in imported
    assert "rcflow.cli.app" in imported or "typer" in imported  # the probe saw the imports at all
