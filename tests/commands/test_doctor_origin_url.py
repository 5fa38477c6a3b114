"""doctor reads the remote's URL from the repository's config file where that file decides it,
as `git config --get` would, and asks git for it otherwise (issue 14, item 5)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from rcflow.commands.context import origin_url
from rcflow.ports import proc
from tests.support.project import Project

_URL = "https://github.com/acme/widget.git"

# (the lines after git init's own config, whether the file alone decides the URL)
_CONFIGS = [
    (f'[remote "origin"]\n\turl = {_URL}\n', True),
    (f'[remote "origin"]\nurl={_URL}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n', True),
    (f'[Remote "origin"]\n\tURL = {_URL}\n', True),
    (
        f'[remote "origin"]\n\turl = first\n[core]\n\tx = 1\n[remote "origin"]\n\turl = {_URL}\n',
        True,
    ),
    (f'[remote "upstream"]\n\turl = other\n[remote "origin"]\n\turl = {_URL}\n', True),
    (f'; note\n# note\n[remote "origin"]\n  url = {_URL}   \n', True),
    (f'[remote "origin"]\n\turl = "{_URL}"\n', False),
    (f'[remote "origin"]\n\turl = {_URL} ; a comment\n', False),
    (f'[remote "origin"]\n\turl = {_URL}#x\n', False),
    ('[remote "origin"]\n\turl = a\\\nb\n', False),
    (f'[remote "origin"] url = {_URL}\n', False),
    (f"[remote.origin]\n\turl = {_URL}\n", False),
    ('[remote "origin"]\n\tfetch = x\n', False),  # none here: git may have one elsewhere
    (f'[remote "Origin"]\n\turl = {_URL}\n', False),
    (f'[include]\n\tpath = other\n[remote "origin"]\n\turl = {_URL}\n', False),
    (f'[remote "origin"]\n\turl = {_URL}\n[includeIf "gitdir:/"]\n\tpath = x\n', False),
    (f'[remote "origin"]\n\turl = a\n\turl = {_URL}\n', True),  # the last one wins
    (f'[remote "origin"]\n\turl = a  b\n\turl = {_URL}\n', False),
    (f'[remote "origin"]\n\turl = {_URL}\n\turl = a\tb\n', False),
    (f'[remote "origin"]\r\n\turl = {_URL}\r\n', False),
]


def _repo(tmp_path: Path, extra: str) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    config = tmp_path / ".git" / "config"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return tmp_path / ".git"


@pytest.mark.parametrize(("extra", "decides"), _CONFIGS)
def test_the_url_is_what_git_config_says_or_left_to_git(
    tmp_path: Path, extra: str, decides: bool
) -> None:
    git_dir = _repo(tmp_path, extra)
    said = subprocess.run(
        ["git", "config", "--get", "remote.origin.url"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    read = origin_url(git_dir, "origin")
    assert (read is not None) is decides
    if decides:
        assert said.returncode == 0 and read == said.stdout.strip()


def test_a_later_scope_leaves_it_to_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git_dir = _repo(tmp_path, f'[remote "origin"]\n\turl = {_URL}\n')
    assert origin_url(git_dir, "origin") == _URL
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "remote.origin.url")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://example.invalid/x.git")
    assert origin_url(git_dir, "origin") is None
    monkeypatch.delenv("GIT_CONFIG_COUNT")
    (git_dir / "config.worktree").write_text('[remote "origin"]\n\turl = y\n', encoding="utf-8")
    assert origin_url(git_dir, "origin") is None


def test_doctor_asks_git_for_no_config_value(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One git process fewer per doctor: the URL comes from the config file."""
    started: list[tuple[str, ...]] = []
    run, start, run_parallel = proc.run, proc.start, proc.run_parallel

    def watched(argv: Any, **kwargs: Any) -> proc.Result:
        started.append(tuple(argv))
        return run(argv, **kwargs)

    def watched_start(argv: Any, **kwargs: Any) -> Any:
        started.append(tuple(argv))
        return start(argv, **kwargs)

    def watched_parallel(calls: Any, **kwargs: Any) -> Any:
        started.extend(call.argv for call in calls)
        return run_parallel(calls, **kwargs)

    monkeypatch.setattr(proc, "run", watched)
    monkeypatch.setattr(proc, "start", watched_start)
    monkeypatch.setattr(proc, "run_parallel", watched_parallel)
    result = project.cli("doctor", "--json")
    assert result.exit_code in (0, 3), result.stdout
    assert ("git", "status") in {a[:2] for a in started}  # the watch saw doctor's git
    assert not [a for a in started if a[:2] == ("git", "config")], started
