"""Scenario positions: a project brought to a named place in the release lifecycle by the steps
themselves (in-process), each step asserted to apply, and the state it must end in checked."""

from __future__ import annotations

from typing import Any

from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.project import Project

# position: (the position it builds on, the step that leads here, its arguments, the state then)
POSITIONS: dict[str, tuple[str | None, str, Any, str]] = {
    "bumped": (None, "bump", BumpArgs("auto"), "bumped"),
    "rc": ("bumped", "rc", RcArgs(), "candidate"),
    "validated": ("rc", "validate", ValidateArgs(), "validated"),
    "promoted": ("validated", "promote", PromoteArgs(), "released"),
    "withdrawn": ("rc", "rollback", RollbackArgs(), "bumped"),  # the RC rolled back
    "retracted": ("promoted", "rollback", RollbackArgs(), "retracted"),  # the release rolled back
}


def at(p: Project, position: str) -> Project:
    """Bring a fresh project to `position` (one of POSITIONS) and return it."""
    before, step, args, state = POSITIONS[position]
    if before is not None:
        at(p, before)
    result = p.step(step, args)
    assert result.status == "applied", (position, step, result.status)
    assert p.status()["state"] == state, (position, p.status()["state"])
    return p


def race_tag_on_origin(project: Project, tag: str, at: str) -> None:
    """When this clone creates `tag`, another run puts the same tag on origin at another commit.

    A `reference-transaction` hook fires after rcflow checked the remote and before it pushes:
    the race a real second run could win.
    """
    hook = project.root / ".git" / "hooks" / "reference-transaction"
    hook.write_text(
        "#!/bin/sh\n"
        '[ "$1" = committed ] || exit 0\n'
        f'grep -q " refs/tags/{tag}$" || exit 0\n'
        f'git --git-dir="{project.origin}" tag {tag} {at} 2>/dev/null || true\n',
        encoding="utf-8",
    )
    hook.chmod(0o755)
