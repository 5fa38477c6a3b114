"""The version files' texts, and the commit that writes a version into all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rcflow.model.config import Config
from rcflow.model.snapshot import Snapshot
from rcflow.model.version import Version
from rcflow.model.version_files import rewrite
from rcflow.steps.base import Facts

if TYPE_CHECKING:
    from rcflow.model.effects import Effect


def head_texts(s: Snapshot) -> dict[str, str | None]:
    return {f.path: f.head_text for f in s.files}


def work_texts(s: Snapshot) -> dict[str, str | None]:
    return {f.path: f.work_text for f in s.files}


def final_texts(s: Snapshot, config: Config, version: Version) -> dict[str, str]:
    """New contents that put `version` into every version file (from HEAD's text)."""
    return rewrite(config, head_texts(s), version)


def version_commit(facts: Facts, version: Version, message: str) -> tuple[list[Effect], list[str]]:
    """Effects that commit `version` into every version file, and the git refusals for it.

    Our own planned text left uncommitted by an interrupted run is resumable work, not a user's
    uncommitted change, so it does not block.
    """
    from rcflow.model.effects import Commit, WriteVersionFiles

    s = facts.snapshot
    contents = final_texts(s, facts.config, version)
    works = work_texts(s)
    resumable = [p for p in contents if works.get(p) == contents[p]]
    paths = tuple(sorted(contents))
    effects: list[Effect] = [
        WriteVersionFiles(
            str(version),
            tuple((p, contents[p]) for p in paths),
            tuple((p, works.get(p)) for p in paths),
        ),
        Commit(paths, message, s.head or ""),
    ]
    return effects, facts.git_blockers(allow_dirty=resumable)
