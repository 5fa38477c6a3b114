"""The built-in `local` forge: releases kept as JSON files in the repository's git dir.

It needs no network and no account, so rehearsals, the demo and offline work have a forge with
the same protocol as GitHub's: drafts, assets with digests, a latest release, retraction. The
ledger holds the audit trail; these files hold what a forge would show.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rcflow.errors import ConflictError, EffectError
from rcflow.forge import RETRACTED_MARKER, AssetFact, ReleaseFact, sha256_file


class LocalForge:
    name = "local"

    def __init__(self, git_dir: Path) -> None:
        self.root = git_dir / "rcflow" / "forge"
        self.dir = self.root / "releases"
        self.assets_dir = self.root / "assets"

    def _path(self, tag: str) -> Path:
        return self.dir / f"{tag}.json"

    def _latest(self) -> str | None:
        try:
            return (self.root / "latest").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def releases(self) -> Mapping[str, ReleaseFact]:
        if not self.dir.is_dir():
            return {}
        latest = self._latest()
        found = {}
        for path in sorted(self.dir.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            tag = data["tag"]
            found[tag] = ReleaseFact(
                tag=tag,
                title=data["title"],
                prerelease=bool(data["prerelease"]),
                retracted=bool(data.get("retracted", False)),
                notes=data.get("notes", ""),
                draft=bool(data.get("draft", False)),
                latest=tag == latest,
                assets=tuple(
                    AssetFact(a["name"], int(a["size"]), a["sha256"])
                    for a in data.get("assets", [])
                ),
            )
        return found

    def _read(self, tag: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._path(tag).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EffectError(f"the forge has no release {tag}") from None
        return data

    def _write(self, tag: str, data: Mapping[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self._path(tag).with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self._path(tag))

    def create_release(
        self, tag: str, title: str, notes: str, *, prerelease: bool, draft: bool = False
    ) -> None:
        existing = self.releases().get(tag)
        if existing is not None:
            if existing.prerelease != prerelease:
                raise ConflictError(f"the forge already has a different release for {tag}")
            return
        self._write(
            tag,
            {"tag": tag, "title": title, "notes": notes, "prerelease": prerelease, "draft": draft},
        )

    def upload_asset(self, tag: str, path: Path, name: str) -> None:
        data = self._read(tag)
        digest = sha256_file(path)
        assets = [a for a in data.get("assets", []) if a["name"] != name]
        if len(assets) != len(data.get("assets", [])):
            raise ConflictError(f"{tag} already has an asset named {name}")
        target = self.assets_dir / tag / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        assets.append({"name": name, "size": path.stat().st_size, "sha256": digest})
        self._write(tag, {**data, "assets": assets})

    def delete_asset(self, tag: str, name: str) -> None:
        data = self._read(tag)
        assets = [a for a in data.get("assets", []) if a["name"] != name]
        self._write(tag, {**data, "assets": assets})
        (self.assets_dir / tag / name).unlink(missing_ok=True)

    def download_asset(self, tag: str, name: str, dest: Path) -> None:
        source = self.assets_dir / tag / name
        if not source.is_file():
            raise EffectError(f"the forge has no asset {name} on {tag}")
        shutil.copyfile(source, dest)

    def publish_release(self, tag: str, *, latest: bool) -> None:
        data = self._read(tag)
        self._write(tag, {**data, "draft": False})
        if latest:
            self.set_latest(tag)

    def set_latest(self, tag: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "latest").write_text(tag + "\n", encoding="utf-8")

    def retract_release(self, tag: str, note: str) -> None:
        existing = self.releases().get(tag)
        if existing is None or existing.retracted:
            return
        data = self._read(tag)
        notes = f"{RETRACTED_MARKER}\n> **{note}**\n\n{existing.notes}"
        self._write(tag, {**data, "notes": notes, "prerelease": True, "retracted": True})
        if self._latest() == tag:
            (self.root / "latest").unlink()

    def delete_release(self, tag: str) -> None:
        self._path(tag).unlink(missing_ok=True)
        shutil.rmtree(self.assets_dir / tag, ignore_errors=True)
