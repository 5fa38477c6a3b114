"""The built-in `local` forge: releases kept as JSON files in the repository's git dir.

It needs no network and no account, so rehearsals, the demo and offline work have a forge with
the same protocol as GitHub's. The ledger holds the audit trail; these files hold the release
records a forge would show (title, notes, prerelease, retracted).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from rcflow.errors import ConflictError
from rcflow.forge import ReleaseFact


class LocalForge:
    name = "local"

    def __init__(self, git_dir: Path) -> None:
        self.dir = git_dir / "rcflow" / "forge" / "releases"

    def _path(self, tag: str) -> Path:
        return self.dir / f"{tag}.json"

    def releases(self) -> Mapping[str, ReleaseFact]:
        if not self.dir.is_dir():
            return {}
        found = {}
        for path in sorted(self.dir.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            found[data["tag"]] = ReleaseFact(
                tag=data["tag"],
                title=data["title"],
                prerelease=bool(data["prerelease"]),
                retracted=bool(data.get("retracted", False)),
                notes=data.get("notes", ""),
            )
        return found

    def _write(self, tag: str, data: dict[str, object]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self._path(tag).with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self._path(tag))

    def create_release(self, tag: str, title: str, notes: str, *, prerelease: bool) -> None:
        existing = self.releases().get(tag)
        if existing is not None:
            if existing.prerelease != prerelease:
                raise ConflictError(f"the forge already has a different release for {tag}")
            return
        self._write(
            tag,
            {"tag": tag, "title": title, "notes": notes, "prerelease": prerelease},
        )

    def retract_release(self, tag: str, note: str) -> None:
        existing = self.releases().get(tag)
        if existing is None or existing.retracted:
            return
        self._write(
            tag,
            {
                "tag": tag,
                "title": existing.title,
                "notes": f"{note}\n\n{existing.notes}",
                "prerelease": existing.prerelease,
                "retracted": True,
            },
        )

    def delete_release(self, tag: str) -> None:
        self._path(tag).unlink(missing_ok=True)
