"""Repositories for `rcflow init`'s tests, the files it plans written out, the steps of a rendered
workflow, and an argv parsed exactly as rcflow's command line parses it."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from rcflow.cli.app import app
from rcflow.commands import init as scaffold


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(
    root: Path,
    *,
    pyproject: str | None = '[project]\nname = "demo"\nversion = "1.3.0"\n',
    tests: bool = True,
    origin: str | None = None,
    branch: str = "main",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", branch)
    if pyproject is not None:
        (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    if tests:
        (root / "tests").mkdir()
        (root / "tests" / "test_demo.py").write_text("def test_ok():\n    pass\n", "utf-8")
    if origin is not None:
        git(root, "remote", "add", "origin", origin)
    return root


def write_all(root: Path, files: list[scaffold.FileToWrite]) -> None:
    for item in files:
        target = root / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.content, encoding="utf-8")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@dataclass(frozen=True)
class Step:
    name: str
    id: str | None
    run: str | None


def steps(workflow: str) -> list[Step]:
    """The steps of a workflow we rendered (each starts with `- name:`), with their scripts.

    A small reader for our own templates' layout; actionlint has checked that they are valid.
    """
    found: list[Step] = []
    lines = workflow.splitlines()
    i = 0
    while i < len(lines):
        head = re.match(r"^(\s*)- name: (.*)$", lines[i])
        if head is None:
            i += 1
            continue
        indent = len(head.group(1)) + 2
        name, step_id, run = head.group(2).strip('"'), None, None
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) >= indent):
            line = lines[i]
            key = re.match(rf"^ {{{indent}}}(\w[\w-]*):(?: (.*))?$", line)
            if key and key.group(1) == "id":
                step_id = key.group(2)
            if key and key.group(1) == "run":
                if key.group(2) == "|":
                    block: list[str] = []
                    i += 1
                    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
                        block.append(lines[i])
                        i += 1
                    width = min(_indent(b) for b in block if b.strip())
                    run = "\n".join(b[width:] for b in block).strip("\n") + "\n"
                    continue
                run = key.group(2)
            i += 1
        found.append(Step(name, step_id, run))
    return found


def parse(argv: list[str]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Parse argv exactly as `rcflow` would: (global options, command, its parameters)."""
    assert argv[0] == "rcflow"
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = group.make_context("rcflow", list(argv[1:]))
    # The command name waits in _protected_args (protected_args before click 8.2).
    protected = getattr(ctx, "_protected_args", None)
    if protected is None:
        protected = getattr(ctx, "protected_args", [])
    name, command, rest = group.resolve_command(ctx, [*protected, *ctx.args])
    assert name is not None and command is not None
    sub = command.make_context(name, list(rest), parent=ctx)
    return dict(ctx.params), name, dict(sub.params)
