"""Artifacts beyond the forge: container images on registries, Python dists on a package index.

The ports `apply` and the preflight reach registries and indexes through (factories tests can
replace), the names of the ledger events that record them, and the dist files a publication takes
from an RC's release assets — the bytes that were validated, never a rebuild.

The adapters (`adapters/oci.py`, `adapters/pyindex.py`) are imported when first used: a plan or a
status never pays for them.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rcflow.engine import release_assets as assets
from rcflow.errors import EffectError
from rcflow.model.config import Config, ImageConfig, PythonPackageConfig
from rcflow.model.ledger import Event
from rcflow.model.version import Version
from rcflow.ports.forge import CHECKSUMS, Forge, parse_checksums, sha256_file

if TYPE_CHECKING:
    from rcflow.adapters.oci import Registry
    from rcflow.adapters.pyindex import PackageIndex

# The ledger events; keys are "<git tag>/<image>" and "<git tag>/<index host>".
IMAGE_RESOLVED = "image_resolved"  # rc: the RC tag's manifest digest
IMAGE_PROMOTED = "image_promoted"  # promote: the final tag (and latest) at that digest, verified
IMAGE_TAG_MOVED = "image_tag_moved"  # rollback: latest back at the previous final's digest
PACKAGE_PUBLISHED = "package_published"  # rc/promote: the dists on the index, verified

LATEST = "latest"

RegistryFactory = Callable[[str, bool], "Registry"]  # (host, insecure) -> a registry client
IndexFactory = Callable[[PythonPackageConfig], "PackageIndex"]


def open_registry(host: str, insecure: bool) -> Registry:
    """The registry at host with the credentials the environment or docker config gives."""
    from rcflow.adapters.oci import Registry, credentials_for

    return Registry(host, credentials_for(host, os.environ), insecure=insecure)


# Set by the boundary: hides a secret from every later CI log line (GitHub Actions' add-mask).
def _no_mask(_secret: str) -> None:
    """Outside the CLI (tests, the library) nothing reads workflow commands."""


mask_secret: Callable[[str], None] = _no_mask


def open_index(config: PythonPackageConfig) -> PackageIndex:
    """The package index with the password from the configured environment variable, or with
    a token minted through trusted publishing when the first upload (or its proof) needs one."""
    from rcflow.adapters.pyindex import (
        TOKEN_USERNAME,
        TRUSTED_SOURCE,
        PackageIndex,
        TrustedPublisher,
    )

    if config.trusted_publishing:
        publisher = TrustedPublisher(config.upload_url, os.environ, on_token=mask_secret)
        return PackageIndex(
            config.upload_url,
            config.simple_url,
            TOKEN_USERNAME,
            None,
            password_source=TRUSTED_SOURCE,
            minter=publisher.mint,
        )
    return PackageIndex(
        config.upload_url,
        config.simple_url,
        config.username,
        os.environ.get(config.password_env) or None,
        password_source=config.password_env,
    )


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
    from rcflow.adapters.oci import ImageRef

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


def dist_files(
    git_dir: Path, forge: Forge, source: str, patterns: Iterable[str], version: str, scratch: Path
) -> list[Path]:
    """The dists of version among source's assets, each verified against its SHA256SUMS.

    From the stage in the git dir when this clone built them (complete and intact), else
    downloaded from source's release on the forge into scratch — as `assets.carry` does.
    """
    patterns = tuple(patterns)
    stage = assets.stage_dir(git_dir, source)
    sums = assets.staged(stage)
    if sums is not None:
        return [stage / n for n in sorted(sums) if selects(n, patterns, version)]
    release = forge.releases().get(source)
    if release is None or release.asset(CHECKSUMS) is None:
        raise EffectError(
            f"{source} has no release with a {CHECKSUMS} on the forge to take the dists from",
            hint="finish the RC with `rcflow rc`, or cut a new one",
        )
    forge.download_asset(source, CHECKSUMS, scratch / CHECKSUMS)
    sums = parse_checksums((scratch / CHECKSUMS).read_text(encoding="utf-8"))
    paths = []
    for name in sorted(sums):
        if not selects(name, patterns, version):
            continue
        path = scratch / name
        forge.download_asset(source, name, path)
        actual = sha256_file(path)
        if actual != sums[name]:
            raise EffectError(
                f"{source}'s asset {name} does not match its {CHECKSUMS} "
                f"({actual[:12]}… ≠ {sums[name][:12]}…): nothing was published",
                hint="the RC's assets changed after validation; cut a new RC",
            )
        paths.append(path)
    return paths


def dist_sums(git_dir: Path, forge: Forge, source: str, scratch: Path) -> Mapping[str, str] | None:
    """source's SHA256SUMS (staged here, else from the forge), or None when there is none."""
    sums = assets.staged(assets.stage_dir(git_dir, source))
    if sums is not None:
        return sums
    release = forge.releases().get(source)
    if release is None or release.asset(CHECKSUMS) is None:
        return None
    forge.download_asset(source, CHECKSUMS, scratch / CHECKSUMS)
    return parse_checksums((scratch / CHECKSUMS).read_text(encoding="utf-8"))
