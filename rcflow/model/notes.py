"""Release notes: the commits since the last final, grouped by conventional-commit type.

Rendered from `release-notes.md.j2`; a repository overrides it with its own copy in
`.rcflow/templates/` (the same place as the workflow templates). The renderer is handed in
(`rcflow.steps.base.Facts.render`): templates are the command layer's, jinja2 paid for only by
the steps that publish.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rcflow.model.version import Version

if TYPE_CHECKING:
    from rcflow.model.conventional import Commit

TEMPLATE = "release-notes.md.j2"

# Renders a named template with a context: (name, context) -> text.
Renderer = Callable[[str, Mapping[str, Any]], str]


def render_notes(
    render: Renderer,
    commits: Sequence[Commit],
    *,
    version: Version,
    tag: str,
    previous_tag: str | None,
    prerelease: bool,
) -> str:
    from rcflow.model.conventional import grouped  # the steps' command-line declarations don't

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
    )
    return text.strip() + "\n"
