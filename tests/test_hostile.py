"""Hostile inputs through the real CLI (a subprocess, a bare origin on disk).

Each bad input is refused with exit 2 (usage, configuration) or 3 (a precondition), in one
`error:` line naming the cause, never a traceback, and with nothing written: origin's refs, the
ledger and the clone are as before. Failures git reports mid-step (a hook's refusal, a lock left
behind) name what git said, and a re-run converges once the cause is gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.ledger import held_lease
from tests.support.project import CliResult, Project, git


def yes(step: tuple[str, ...]) -> tuple[str, ...]:
    return step if step[0] in ("status", "log") else (*step, "--yes")


def error_lines(result: CliResult) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_clean(
    p: Project, args: tuple[str, ...], code: int, *needles: str, env: dict[str, str] | None = None
) -> CliResult:
    """`rcflow ARGS` exits `code` with one error line holding every needle; nothing changed."""
    world, ledger = p.world(), p.ledger()
    result = p.run(*args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert p.world() == world
    assert p.ledger() == ledger
    return result


# -- configuration -------------------------------------------------------------------------

BAD_CONFIG = [
    # tag prefixes git refuses once a version follows them (git check-ref-format)
    ('tag_prefix = "x@{"', "tag_prefix"),
    ('tag_prefix = "rel/.v"', "tag_prefix"),
    ('tag_prefix = "v.lock/"', "tag_prefix"),
    ('tag_prefix = "rel//v"', "tag_prefix"),
    ('tag_prefix = "a..b"', "tag_prefix"),
    ('tag_prefix = "v~"', "tag_prefix"),
    ('tag_prefix = "/v"', "tag_prefix"),
    ('tag_prefix = "-v"', "tag_prefix"),
    ('tag_prefix = "rel/"', None),  # valid: rel/1.4.0 (checked below, not here)
    # branch and remote names: passed to git as arguments
    ('branch = "-x"', "branch"),
    ('branch = "a..b"', "branch"),
    ('branch = "re lease"', "branch"),
    ('branch = "x.lock"', "branch"),
    ('remote = "--upload-pack=touch PWNED"', "remote"),
    ('remote = "a b"', "remote"),
    ('remote = "o:x"', "remote"),
    # durations past any real wait (and past what a date can hold)
    ('lease_ttl = "100000000d"', "lease_ttl"),
    ("lease_ttl = 1e300", "lease_ttl"),
    ('[[validate]]\nname = "u"\nrun = "true"\ntimeout = "9999999h"', "validate[0].timeout"),
    ('[[validate]]\nname = "u"\nrun = "true"\nmax_age = "100000000d"', "validate[0].max_age"),
    ('[assets]\nfiles = ["dist/*"]\ntimeout = "400d"', "assets.timeout"),
    ('[hooks]\nafter_promote = "true"\ntimeout = "400d"', "hooks.timeout"),
]


@pytest.mark.parametrize(
    ("config", "key"), [c for c in BAD_CONFIG if c[1] is not None], ids=lambda v: str(v)[:30]
)
@pytest.mark.parametrize("step", [("bump", "minor"), ("status",)])
def test_bad_config_is_a_one_line_error_and_changes_nothing(
    project: Project, config: str, key: str, step: tuple[str, ...]
) -> None:
    project.write("rcflow.toml", config.replace("PWNED", str(project.base / "pwned")) + "\n")
    assert_clean(project, yes(step), 2, f"rcflow.toml: {key}")
    assert not (project.base / "pwned").exists()


@pytest.mark.parametrize("prefix", ["pkg/v", "rel/", "release-", "", "v"])
def test_tag_prefixes_git_accepts_stay_valid(project: Project, prefix: str) -> None:
    project.write("rcflow.toml", f'tag_prefix = "{prefix}"\n')
    project.commit("chore: rcflow config")
    project.push()
    result = project.run("bump", "minor", "--dry-run")
    assert result.exit_code == 0, result.stderr


# -- a reviewed plan file --------------------------------------------------------------------

PLAN_FILES: list[tuple[str, bytes | None]] = [
    ("array", b"[]"),
    ("number", b"42"),
    ("string", b'"a plan"'),
    ("null", b"null"),
    ("truncated", b'{"step": "bu'),
    ("binary", b"\xff\xfe\x00\x01"),
    ("empty", b""),
    ("directory", None),
]


@pytest.mark.parametrize(("name", "content"), PLAN_FILES, ids=[n for n, _ in PLAN_FILES])
def test_a_malformed_plan_file_is_a_usage_error(
    project: Project, tmp_path: Path, name: str, content: bytes | None
) -> None:
    plan = tmp_path / "plan.json"
    if content is None:
        plan.mkdir()
    else:
        plan.write_bytes(content)
    assert_clean(project, ("bump", "minor", "--yes", "--plan-file", str(plan)), 2, "--plan-file")


def test_a_plan_file_that_cannot_be_written_is_a_usage_error(
    project: Project, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "dir" / "plan.json"
    assert_clean(project, ("bump", "minor", "--dry-run", "--plan-file", str(target)), 2)


def test_a_plan_for_another_step_is_a_usage_error(project: Project, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"step": "promote", "fingerprint": "x"}), encoding="utf-8")
    assert_clean(project, ("bump", "minor", "--yes", "--plan-file", str(plan)), 2, "promote")


# -- git: identity, commit messages ----------------------------------------------------------


def candidate(p: Project) -> None:
    for step in (("bump", "minor"), ("rc",)):
        result = p.run(*step, "--yes")
        assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "step", [("validate",), ("promote",), ("bump", "minor"), ("rc",), ("rollback",)]
)
def test_no_git_identity_refuses_every_step_before_writing(
    project: Project, step: tuple[str, ...]
) -> None:
    if step[0] == "rc":
        assert project.run("bump", "minor", "--yes").exit_code == 0
    if step[0] in ("validate", "promote", "rollback"):
        candidate(project)
    if step[0] == "promote":
        assert project.run("validate", "--yes").exit_code == 0
    project.git("config", "user.name", "")  # git refuses an empty name: no identity
    result = assert_clean(project, (*step, "--yes"), 3)
    assert "git has no identity" in result.stderr, result.stderr


@pytest.mark.parametrize("byte", ["\x1e", "\x1f", "\x1e\x1f\x1e"])
def test_control_bytes_in_commit_messages_break_nothing(project: Project, byte: str) -> None:
    project.write("other.py", "x = 1\n")
    project.commit(f"fix: odd{byte}subject\n\nbody {byte} with{byte}bytes\n{byte}")
    project.push()
    for step in (("status",), ("log",), ("bump", "auto"), ("rc",), ("validate",), ("promote",)):
        result = project.run(*yes(step))
        assert result.exit_code == 0, (step, result.stderr)
        assert "Traceback" not in result.stderr
    assert project.status()["state"] == "released"


# -- git failures in the middle of a step ----------------------------------------------------


def refusing_hook(p: Project, message: str) -> Path:
    hook = p.origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        f'  case "$ref" in refs/tags/*) echo "{message}" >&2; exit 1;; esac\n'
        "done\n"
        "exit 0\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    return hook


def test_a_hook_refusal_names_the_ref_and_the_hook_message(project: Project) -> None:
    assert project.run("bump", "minor", "--yes").exit_code == 0
    hook = refusing_hook(project, "tags are frozen until Monday")
    result = project.run("rc", "--yes")
    assert result.exit_code == 1, result.stderr
    [line] = error_lines(result)
    assert "refs/tags/v1.4.0-rc.1" in line, line
    assert "pre-receive hook declined" in line, line
    assert "tags are frozen until Monday" in line, line
    assert "failed to push some refs" not in line and "''" not in line, line
    assert "Traceback" not in result.stderr
    assert "v1.4.0-rc.1" not in project.remote_tags()
    assert held_lease(project.ledger()) is None

    hook.unlink()
    again = project.run("rc", "--yes")
    assert again.exit_code == 0, again.stderr
    assert project.status()["state"] == "candidate"


def test_a_stale_index_lock_is_named_with_its_path(project: Project) -> None:
    lock = project.root / ".git" / "index.lock"
    lock.write_text("", encoding="utf-8")
    result = project.run("bump", "minor", "--yes")
    assert result.exit_code == 1, result.stderr
    [line] = error_lines(result)
    assert str(lock) in line, line
    assert "delete" in line, line
    assert held_lease(project.ledger()) is None

    lock.unlink()
    again = project.run("bump", "minor", "--yes")
    assert again.exit_code == 0, again.stderr
    assert 'version = "1.4.0"' in project.read("pyproject.toml")


@pytest.mark.parametrize(
    ("step", "ref"),
    [(("bump", "minor"), "refs/rcflow/ledger"), (("rc",), "refs/tags/v1.4.0-rc.1")],
)
def test_a_stale_lock_on_the_remote_is_named_as_such(
    project: Project, step: tuple[str, ...], ref: str
) -> None:
    if step[0] == "rc":
        assert project.run("bump", "minor", "--yes").exit_code == 0
    lock = project.origin / f"{ref}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("", encoding="utf-8")
    remote_refs = git(project.origin, "for-each-ref")
    result = project.run(*step, "--yes")
    assert result.exit_code == 1, result.stderr
    [line] = error_lines(result)
    assert "stale lock on origin" in line, line
    assert os.path.normpath(lock) in line, line
    assert "the remote changed" not in result.stderr
    assert f"delete {os.path.normpath(lock)}" in result.stderr
    if step[0] == "bump":
        # refused at the lease, the first push: nothing anywhere changed
        assert git(project.origin, "for-each-ref") == remote_refs

    lock.unlink()
    again = project.run(*step, "--yes")
    assert again.exit_code == 0, again.stderr
    assert held_lease(project.ledger()) is None


def test_an_unwritable_github_output_is_a_note(project: Project, tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "no" / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "summary"),
    }
    for step in (("status",), ("bump", "minor")):
        result = project.run(*yes(step), env=env)
        assert result.exit_code == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert "could not write GITHUB_OUTPUT" in result.stderr, result.stderr


# -- what other runs left on the ledger ------------------------------------------------------


def foreign_lease(p: Project, data: dict[str, object]) -> None:
    """A lease_acquired event on origin's ledger, as another (older, odd) run wrote it."""
    body = {
        "v": 1,
        "kind": "lease_acquired",
        "key": "elsewhere-1",
        "time": "2026-01-01T00:00:00Z",
        "actor": "Someone <someone@example.invalid>",
        "run": "elsewhere-1",
        "data": data,
    }
    message = f"rcflow: lease_acquired elsewhere-1\n\n{json.dumps(body)}\n"
    empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows it without storing it
    sha = git(p.origin, "commit-tree", empty_tree, "-m", message)
    git(p.origin, "update-ref", "refs/rcflow/ledger", sha)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"host": "elsewhere", "pid": 1, "expires": 1e300, "command": "rc"}, 4),
        ({"host": "elsewhere", "pid": "x", "expires": "soon", "command": "rc"}, 0),
        ({"host": ["x"], "pid": None, "expires": [1], "command": 3}, 0),
    ],
    ids=["far-future", "strings", "wrong-types"],
)
def test_an_odd_lease_on_the_ledger_is_read_not_a_crash(
    project: Project, data: dict[str, object], code: int
) -> None:
    foreign_lease(project, data)
    if code == 4:
        result = assert_clean(project, ("bump", "minor", "--yes"), 4, "holds the release lease")
        assert "9999-12-31" in result.stderr
    else:
        result = project.run("bump", "minor", "--yes")
        assert result.exit_code == 0, result.stderr
        assert held_lease(project.ledger()) is None
