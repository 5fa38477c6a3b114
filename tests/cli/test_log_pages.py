"""`rcflow log` pages: newest first, `--limit N`, `--all`, `--oldest-first`, read as git walks
the ledger (a page does not read the rest of it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rcflow.engine.executor import LedgerWriter
from rcflow.engine.observe import observe
from rcflow.model.ledger import RunIdentity
from rcflow.ports import proc
from tests.support.project import Project

WHO = RunIdentity(actor="Notes <n@example.invalid>", run="run-n", host="h", pid=1, url=None)


def notes(p: Project, count: int) -> None:
    """`count` events (note-0 oldest), one lease pair around them as a step would."""
    ctx = p.ctx()
    snap = observe(ctx.git, ctx.config, ctx.forge, with_commits=False)
    writer = LedgerWriter(ctx.git, ctx.config.remote, snap.ledger_tip, snap.ledger, WHO)
    writer.append("lease_acquired", WHO.run, {"expires": 0})
    for n in range(count):
        writer.append("note", f"note-{n}", {"n": n})
    writer.append("lease_released", WHO.run, {})


def keys(p: Project, *args: str) -> tuple[list[str], bool]:
    result = p.cli("log", "--json", *args)
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    assert set(doc) == {"events", "more"}
    return [e["key"] for e in doc["events"]], doc["more"]


def test_pages_newest_first_with_a_limit(project: Project) -> None:
    notes(project, 60)
    shown, more = keys(project)
    assert shown == [f"note-{n}" for n in range(59, 9, -1)] and more  # 50 by default
    assert keys(project, "--limit", "3") == (["note-59", "note-58", "note-57"], True)
    assert keys(project, "-n", "3", "--oldest-first") == (["note-57", "note-58", "note-59"], True)
    every, more = keys(project, "--all")
    assert every == ["run-n", *(f"note-{n}" for n in range(59, -1, -1)), "run-n"] and not more
    assert keys(project, "--all", "--oldest-first")[0] == every[::-1]
    assert keys(project, "--limit", "100") == ([f"note-{n}" for n in range(59, -1, -1)], False)
    # The quick path (no typer) answers the same as the full CLI.
    quick = project.run("log", "--json", "--limit", "2", "-C", str(project.root))
    assert quick.exit_code == 0, quick.stderr
    assert [e["key"] for e in json.loads(quick.stdout)["events"]] == ["note-59", "note-58"]


def test_the_text_says_when_older_events_are_left_out(project: Project) -> None:
    notes(project, 3)
    page = project.cli("log", "--limit", "2")
    assert page.exit_code == 0
    lines = page.stdout.splitlines()
    assert len(lines) == 2 and "note-2" in lines[0] and "note-1" in lines[1]
    assert "rcflow log --limit N" in page.stderr
    whole = project.cli("log", "--limit", "3")
    assert len(whole.stdout.splitlines()) == 3 and "--limit" not in whole.stderr


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_a_bad_limit_is_a_usage_error(project: Project, limit: str) -> None:
    result = project.run("log", "--limit", limit, "-C", str(project.root))
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_a_page_stops_git_after_the_page(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    notes(project, 40)
    read: list[str] = []
    real = proc.stream

    def counting(argv: Any, **kw: Any) -> Any:
        for record in real(argv, **kw):
            read.append(record)
            yield record

    monkeypatch.setattr(proc, "stream", counting)
    assert keys(project, "--limit", "5")[0][0] == "note-39"
    # sha and message per commit: the lease release, the page and one more; not 42 commits.
    assert len(read) == 2 * 7
