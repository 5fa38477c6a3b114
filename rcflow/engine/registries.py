"""Dists for publication, taken from an RC's release assets: the bytes that were validated,
never a rebuild. The pure helpers (ledger keys, image tags, which assets are dists) are in
`rcflow.model.registries`; the registry and index clients come in through `rcflow.ports.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from rcflow.engine import release_assets as assets
from rcflow.errors import EffectError

# Re-exported for the preflight, until it imports them from rcflow.model.registries itself.
from rcflow.model.registries import selects
from rcflow.ports.forge import CHECKSUMS, Forge, parse_checksums


# Set by the boundary: hides a secret from every later CI log line (GitHub Actions' add-mask).
def _no_mask(_secret: str) -> None:
    """Outside the CLI (tests, the library) nothing reads workflow commands."""


mask_secret: Callable[[str], None] = _no_mask


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
        actual = forge.download_asset(source, name, path)
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


__all__ = [
    "dist_files",
    "dist_sums",
    "mask_secret",
]
