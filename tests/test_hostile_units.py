"""Unit tests for the parsing and rules behind the hostile-input fixes: git's ref-name rules,
the NUL-framed log, git's error text, the bounds on durations and dates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rcflow.adapters.git import Git, _parse_log, _push_error, _unwrap
from rcflow.errors import ConfigError, ConflictError, EffectError, command_cause
from rcflow.model.config import MAX_DURATION, parse_duration, ref_format_problem
from rcflow.model.ledger import from_iso, now_iso
from tests.support.project import git

REF_NAMES = [
    "refs/tags/v1.4.0",
    "refs/tags/pkg/v1.4.0-rc.1",
    "refs/tags/rel-1.4.0",
    "refs/tags/x@{1.4.0",
    "refs/tags/x@1.4.0",
    "refs/tags/@",
    "refs/tags/rel/.v1.4.0",
    "refs/tags/v.lock/1.4.0",
    "refs/tags/v1.4.0.lock",
    "refs/tags/rel//v1.4.0",
    "refs/tags/v1.4.0/",
    "/refs/tags/v1.4.0",
    "refs/tags/a..b1.4.0",
    "refs/tags/v1.4.0.",
    "refs/tags/v 1.4.0",
    "refs/tags/v~1.4.0",
    "refs/tags/v^1.4.0",
    "refs/tags/v:1.4.0",
    "refs/tags/v?1.4.0",
    "refs/tags/v*1.4.0",
    "refs/tags/v[1.4.0",
    "refs/tags/v\\1.4.0",
    "refs/tags/v\t1.4.0",
    "refs/tags/v\x7f1.4.0",
    "refs/tags/v\x1e1.4.0",
    "refs/tags/ünï/1.4.0",
    "refs/tags/.v1.4.0",
    "refs/tags/v.1.4.0",
    "refs/heads/main",
    "refs/heads/-x",
    "refs/remotes/origin",
]


@pytest.mark.parametrize("name", REF_NAMES, ids=repr)
def test_ref_rules_agree_with_git_check_ref_format(name: str) -> None:
    accepted = subprocess.run(["git", "check-ref-format", name], check=False).returncode == 0
    problem = ref_format_problem(name)
    assert (problem is None) == accepted, (name, problem)


def test_log_framing_survives_any_byte_git_keeps_in_a_message(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(repo))
    messages = [
        "feat: plain",
        "fix: record\x1eseparator\n\nbody\x1ewith\x1fboth\n\x1e",
        "chore: unit\x1fseparator in the subject",
        "docs: many lines\n\nfirst\n\nsecond\n\n\n",
        "feat: no body",
    ]
    for message in messages:
        git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    g = Git(repo, repo / ".git")
    entries = g.log("HEAD", reverse=True)
    assert [e.subject for e in entries] == [m.split("\n\n")[0] for m in messages]
    assert entries[1].body == "body\x1ewith\x1fboth\n\x1e"
    assert entries[3].body == "first\n\nsecond"
    assert all(e.body == "" for e in (entries[0], entries[2], entries[4]))
    head = g.head()
    assert head is not None and head[2] == "feat: no body" and head[0] == entries[-1].sha
    assert g.log("HEAD", max_count=1)[0].sha == head[0]


def test_a_log_record_that_is_not_one_is_an_error_not_a_crash() -> None:
    assert _parse_log("") == []
    with pytest.raises(EffectError, match="cannot read"):
        _parse_log("not-a-sha\0subject\0body\0")


INDEX_LOCK = """fatal: Unable to create '/w/.git/index.lock': File exists.

Another git process seems to be running in this repository, e.g.
an editor opened by 'git commit'. Please make sure all processes
are terminated then try again. If it still fails, a git process
may have crashed in this repository earlier:
remove the file manually to continue."""


def test_command_cause_keeps_the_cause_not_the_advice() -> None:
    cause = command_cause(INDEX_LOCK)
    assert "/w/.git/index.lock exists" in cause
    assert "delete that file" in cause
    assert "\n" not in cause
    two = "warning: x\nerror: first problem\nhint: do this\nfatal: second problem\n"
    assert command_cause(two) == "error: first problem; fatal: second problem"
    assert command_cause("just one line\n") == "just one line"
    assert command_cause("") == ""


def test_unwrap_removes_gitpython_framing_only() -> None:
    assert _unwrap("\n  stderr: 'error: failed to push some refs to '../o.git''") == (
        "error: failed to push some refs to '../o.git'"
    )
    assert _unwrap(None) == ""
    assert _unwrap("plain") == "plain"


def test_push_errors_name_the_ref_and_what_the_remote_said() -> None:
    stdout = (
        "To ../o.git\n!\tHEAD:refs/heads/main\t[remote rejected] (atomic push failure)\n"
        "!\trefs/tags/t1:refs/tags/t1\t[remote rejected] (hook declined)\nDone\n"
    )
    stderr = (
        "remote: no tags here        \nremote: error: hook declined to update refs/tags/t1\n"
        "error: failed to push some refs to '../o.git'\n"
    )
    err = _push_error("origin", ["x"], stdout, stderr, 1)
    assert isinstance(err, EffectError) and not isinstance(err, ConflictError)
    assert err.message == (
        "origin refused refs/tags/t1 (hook declined): no tags here / "
        "error: hook declined to update refs/tags/t1"
    )

    lost = "!\tHEAD~2:refs/heads/main\t[rejected] (non-fast-forward)\nDone\n"
    assert isinstance(_push_error("origin", ["x"], lost, "", 1), ConflictError)
    raced = (
        "!\tX:refs/rcflow/ledger\t[remote rejected] "
        "(cannot lock ref 'refs/rcflow/ledger': is at a but expected b)\n"
    )
    assert isinstance(_push_error("origin", ["x"], raced, "", 1), ConflictError)

    locked = (
        "remote: error: cannot lock ref 'refs/heads/main': Unable to create "
        "'/srv/o.git/./refs/heads/main.lock': File exists.\n"
    )
    stale = _push_error(
        "origin", ["x"], "!\tHEAD:refs/heads/main\t[remote rejected] (x)\n", locked, 1
    )
    assert isinstance(stale, EffectError) and not isinstance(stale, ConflictError)
    assert "stale lock on origin: /srv/o.git/refs/heads/main.lock" in stale.message
    assert stale.hint and "delete /srv/o.git/refs/heads/main.lock" in stale.hint

    unreachable = (
        "fatal: '../nowhere' does not appear to be a git repository\n"
        "fatal: Could not read from remote repository.\n\n"
        "Please make sure you have the correct access rights\nand the repository exists.\n"
    )
    err = _push_error("origin", ["HEAD:refs/heads/main"], "", unreachable, 128)
    assert "does not appear to be a git repository" in err.message


def test_a_killed_atomic_push_names_every_lock_it_left(tmp_path: Path) -> None:
    """An atomic push killed while it held its refs' locks leaves one per ref; git names the
    first it cannot take. On a remote that is a path here, the error names them all (this
    push's refs first), so one deletion is enough: also a lock of a ref this push does not
    move, which the killed push held and the next push would meet."""
    origin = tmp_path / "o.git"
    for ref in ("refs/tags/v1.4.0-rc.1", "refs/rcflow/ledger", "refs/heads/main"):
        (origin / f"{ref}.lock").parent.mkdir(parents=True, exist_ok=True)
        (origin / f"{ref}.lock").write_text("", encoding="utf-8")
    stderr = (
        "remote: error: cannot lock ref 'refs/tags/v1.4.0-rc.1': Unable to create "
        f"'{origin}/./refs/tags/v1.4.0-rc.1.lock': File exists.\n"
    )
    refspecs = [
        "refs/tags/v1.4.0-rc.1:refs/tags/v1.4.0-rc.1",
        "+abc123:refs/rcflow/ledger",
        "def456:refs/rcflow/forge",
    ]
    err = _push_error("origin", refspecs, "", stderr, 1)
    tag, ledger = origin / "refs/tags/v1.4.0-rc.1.lock", origin / "refs/rcflow/ledger.lock"
    main = origin / "refs/heads/main.lock"
    assert isinstance(err, EffectError) and not isinstance(err, ConflictError)
    assert err.message.startswith(f"stale locks on origin: {tag}, {ledger}, {main} exist"), (
        err.message
    )
    assert err.hint and f"delete {tag}, {ledger}, {main} there" in err.hint

    ledger.unlink()
    main.unlink()  # the one git named, alone: the message as it always was
    one = _push_error("origin", refspecs, "", stderr, 1)
    assert one.message.startswith(f"a stale lock on origin: {tag} exists"), one.message


@pytest.mark.parametrize("text", ["366d", "8784h", 366 * 86400])
def test_durations_up_to_the_bound_are_accepted(text: str | int) -> None:
    assert parse_duration(text, "x") == MAX_DURATION


@pytest.mark.parametrize("text", ["367d", "100000000d", 1e300, "8785h"])
def test_durations_past_the_bound_are_refused(text: str | float) -> None:
    with pytest.raises(ConfigError, match="too long"):
        parse_duration(text, "lease_ttl")


def test_now_iso_holds_any_number() -> None:
    assert now_iso(0) == "1970-01-01T00:00:00Z"
    assert now_iso(1e20) == "9999-12-31T23:59:59Z"
    assert now_iso(float("inf")) == "9999-12-31T23:59:59Z"
    assert now_iso(float("nan")) == "1970-01-01T00:00:00Z"
    assert from_iso(now_iso(1_800_000_000)) == 1_800_000_000
