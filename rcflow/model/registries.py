"""Artifacts beyond the forge, as the model sees them: the ledger keys and events that record
container images and Python dists, image tags in an image's spelling, and which release assets
are the dists to publish.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rcflow.model.config import Config, ImageConfig, PythonPackageConfig
from rcflow.model.events import EventKind
from rcflow.model.ledger import Event
from rcflow.model.version import Version
from rcflow.ports.forge import CHECKSUMS

if TYPE_CHECKING:
    from rcflow.ports.registry import PackageIndex, Registry

# The ledger events; keys are "<git tag>/<image>" and "<git tag>/<index host>".
IMAGE_RESOLVED = EventKind.IMAGE_RESOLVED
IMAGE_PROMOTED = EventKind.IMAGE_PROMOTED
IMAGE_TAG_MOVED = EventKind.IMAGE_TAG_MOVED
PACKAGE_PUBLISHED = EventKind.PACKAGE_PUBLISHED

LATEST = "latest"

RegistryFactory = Callable[[str, bool], "Registry"]  # (host, insecure) -> a registry client
IndexFactory = Callable[[PythonPackageConfig], "PackageIndex"]


def image_key(tag: str, image: str) -> str:
    return f"{tag}/{image}"


def package_key(tag: str, index: PythonPackageConfig) -> str:
    """`<git tag>/<index host>`: not the bare tag, whose newest event is the step's own."""
    from urllib.parse import urlsplit

    return f"{tag}/{urlsplit(index.upload_url).netloc}"


def image_tag(image: ImageConfig, version: Version, config: Config) -> str:
    """The image tag for version in the image's spelling (v1.4.0-rc.2, 1.4.0-rc.2, 1.4.0rc2)."""
    return version.render(image.spelling, tag_prefix=config.tag_prefix, rc_token=config.rc_token)


def split_image(name: str) -> tuple[str, str]:
    """(registry host, repository) of a configured image name."""
    from rcflow.model.images import ImageRef

    ref = ImageRef.parse(name)
    return ref.host, ref.repository


def recorded(events: Iterable[Event], kind: str, key: str) -> Event | None:
    """The newest event of kind about key."""
    found = None
    for e in events:
        if e.kind == kind and e.key == key:
            found = e
    return found


def recorded_digest(events: Iterable[Event], kind: str, key: str) -> str | None:
    event = recorded(events, kind, key)
    digest = event.data.get("digest") if event is not None else None
    return str(digest) if digest else None


# --- dists -----------------------------------------------------------------------------------

_WHEEL = re.compile(r"[^-]+-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl")
_SDIST = re.compile(r"[^/]+-(?P<version>[^-/]+)\.(tar\.gz|zip)")


def dist_version(filename: str) -> str | None:
    """The version a wheel or sdist file name carries (its name says it; PEP 427, PEP 625)."""
    match = _WHEEL.fullmatch(filename) or _SDIST.fullmatch(filename)
    return match.group("version") if match else None


def selects(filename: str, patterns: Iterable[str], version: str) -> bool:
    """Whether a release asset is one of the dists to publish for version."""
    return (
        filename != CHECKSUMS
        and any(fnmatch.fnmatchcase(filename, p) for p in patterns)
        and dist_version(filename) == version
    )


def normalize(name: str) -> str:
    """PEP 503 project name normalization: runs of `-_.` become `-`, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()
