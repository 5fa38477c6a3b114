"""The Forge protocol: where releases live (the local store, or GitHub in a later adapter)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ReleaseFact:
    """A release as the forge holds it."""

    tag: str
    title: str
    prerelease: bool
    retracted: bool
    notes: str = ""


class Forge(Protocol):
    name: str

    def releases(self) -> Mapping[str, ReleaseFact]:
        """Every release the forge holds, by tag (read-only)."""
        ...

    def create_release(self, tag: str, title: str, notes: str, *, prerelease: bool) -> None: ...

    def retract_release(self, tag: str, note: str) -> None: ...

    def delete_release(self, tag: str) -> None: ...
