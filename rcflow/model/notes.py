"""Release notes: the commits since the last final, grouped by conventional-commit type.

Rendered from `release-notes.md.j2`; a repository overrides it with its own copy in
`.rcflow/templates/` (the same place as the workflow templates).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rcflow.model.conventional import Commit, grouped
from rcflow.model.version import Version
from rcflow.ports.templates import render

TEMPLATE = "release-notes.md.j2"


def render_notes(
    root: Path,
    commits: Sequence[Commit],
    *,
    version: Version,
    tag: str,
    previous_tag: str | None,
    prerelease: bool,
) -> str:

    text = render(
        TEMPLATE,
        {
            "version": str(version),
            "final": str(version.base),
            "tag": tag,
            "previous_tag": previous_tag or "",
            "prerelease": prerelease,
            "sections": grouped(commits),
            "compare_url": "",
        },
        root=root,
    )
    return text.strip() + "\n"
