"""Image references: `[host[:port]/]name[:tag]` parsed the way docker does."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rcflow.errors import UsageError

DOCKER_HUB = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# The distribution spec's grammar (reference.go), lower-case path components only.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class ImageRef:
    """An image repository on a registry: `host` is where the API lives, `repository` its name."""

    host: str
    repository: str
    tag: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse `[host[:port]/]name[:tag]` the way docker does (no host → Docker Hub).

        The first component is a host when it has a `.` or a `:` or is `localhost`; Docker Hub's
        one-component names live under `library/`. A `@digest` is refused: rcflow records digests
        itself and promotes tags.
        """
        if "@" in text:
            raise UsageError(f"image {text!r}: name an image by tag, not by digest")
        name, tag = text, None
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = text.rsplit(":", 1)
            if not TAG_RE.fullmatch(tag):
                raise UsageError(f"image {text!r}: invalid tag {tag!r}")
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            host, repository = first.lower(), rest
        else:
            host, repository = DOCKER_HUB, name
        host = DOCKER_HUB if host in DOCKER_HUB_ALIASES else host
        if host == DOCKER_HUB and "/" not in repository:
            repository = f"library/{repository}"
        if not REPOSITORY_RE.fullmatch(repository):
            raise UsageError(f"image {text!r}: invalid repository name {repository!r}")
        return cls(host, repository, tag)

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}" + (f":{self.tag}" if self.tag else "")
