"""The registry ports: container registries and Python package indexes, as protocols.

The engine promotes images and publishes dists through these; `rcflow.commands.context` builds
the real clients (`adapters/oci.py`, `adapters/pyindex.py`) and tests pass their own.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal, Protocol

from rcflow.record import dataclass, field

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_LIST)


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as the registry stores it; `digest` is verified against `raw`."""

    digest: str
    media_type: str
    raw: bytes = field(repr=False)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True)
class TagOutcome:
    """What promotion did for one tag: skipped (already at the digest), tagged, or moved."""

    target: str
    action: Literal["skipped", "tagged", "moved"]
    digest: str

    def describe(self) -> str:
        return {
            "skipped": f"{self.target} already at {self.digest}",
            "tagged": f"tagged {self.target} at {self.digest}",
            "moved": f"moved {self.target} to {self.digest}",
        }[self.action]


@dataclass(frozen=True)
class FileOutcome:
    """What publishing did with one file: skipped (already there, same bytes) or uploaded."""

    target: str
    action: Literal["skipped", "uploaded"]
    sha256: str

    def describe(self) -> str:
        verb = "already on the index" if self.action == "skipped" else "uploaded"
        return f"{self.target} {verb} (sha256 {self.sha256[:12]}…)"


class Registry(Protocol):
    """One registry host (one set of credentials)."""

    @property
    def host(self) -> str: ...

    def resolve(self, repo: str, tag: str) -> Manifest | None:
        """The manifest a tag points at, or None when the tag (or the repository) does not exist."""
        ...

    def fetch(self, repo: str, digest: str) -> Manifest: ...

    def put(self, repo: str, tag: str, manifest: Manifest) -> str: ...

    def can_push(self, repo: str) -> None:
        """Prove the credentials may push to repo, writing nothing."""
        ...

    def promote(
        self, repo: str, digest: str, tags: Sequence[str], *, movable: Collection[str] = ()
    ) -> list[TagOutcome]:
        """Point every tag at digest (a conflict changes nothing), then verify each one."""
        ...


class PackageIndex(Protocol):
    """A Python package index: its simple pages and its upload endpoint."""

    def files(self, project: str) -> dict[str, str]:
        """File name -> sha256 of what the index lists for project."""
        ...

    def can_upload(self) -> None:
        """Prove the credentials may upload, writing nothing."""
        ...

    def publish(self, paths: Sequence[Path]) -> list[FileOutcome]:
        """Upload what the index lacks, skip what it has, refuse what it has with other bytes."""
        ...
