"""Release assets: built once from the RC commit, staged with their checksums, uploaded as is.

The stage (`<git dir>/rcflow/assets/<tag>/`) is what makes re-runs safe with builds that are not
reproducible: a run that stopped halfway uploads the files it already built, never a rebuild
whose bytes differ from the half that is on the forge. Its marker (`.rcflow-staged`: each file's
size and modification time) is written last, so a stage with it is complete, and a file changed
since is seen without reading it. Once the forge holds the release's `SHA256SUMS` the stage has
done its job and is removed: the forge keeps the one copy.

Each asset is read once per step: moved (not copied) out of the build's worktree, then hashed
as it is uploaded (GitHub; another forge hashes it while storing it, or the file is hashed once
before) and checked by the digest the forge reports; SHA256SUMS is written from those digests
and uploaded last. A stage left by an earlier run is hashed once, to compare with what the
forge already holds.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from rcflow.engine.validations.command import run_once, worktree
from rcflow.errors import BlockedError, ConflictError, EffectError
from rcflow.ports.forge import (
    CHECKSUMS,
    Forge,
    ReleaseFact,
    copy_hashing,
    git_asset_sizes,
    parse_checksums,
    render_checksums,
    sha256_file,
)
from rcflow.ports.git import Repository


def stage_dir(git_dir: Path, tag: str) -> Path:
    return git_dir / "rcflow" / "assets" / tag


# Written last into a stage: {name: [size, mtime_ns]} of each staged file. Not an asset name a
# build can produce through rcflow (it is skipped when staging, as SHA256SUMS is).
MARKER = ".rcflow-staged"


def staged_files(stage: Path) -> list[str] | None:
    """The staged files' names, when the stage is complete and each file is as it was staged
    (same size and modification time), without reading them."""
    marker = stage / MARKER
    if not marker.is_file():
        return _legacy_stage(stage)
    try:
        listed = json.loads(marker.read_text(encoding="utf-8"))
        for name, (size, mtime_ns) in listed.items():
            st = (stage / name).stat()
            if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                return None
    except (OSError, ValueError, TypeError, AttributeError):
        return None  # damaged or changed: built again
    return sorted(listed)


def _legacy_stage(stage: Path) -> list[str] | None:
    """A stage an earlier rcflow completed with its SHA256SUMS (no marker): intact when each
    file has the digest listed."""
    sums_path = stage / CHECKSUMS
    if not sums_path.is_file():
        return None
    sums = parse_checksums(sums_path.read_text(encoding="utf-8"))
    for name, digest in sums.items():
        path = stage / name
        if not path.is_file() or _digest(path) != digest:
            return None
    return sorted(sums)


def staged(stage: Path) -> dict[str, str] | None:
    """The staged files and digests, when the stage is complete and intact (each file hashed
    here, unless this process knows its digest already)."""
    names = staged_files(stage)
    if names is None:
        return None
    return {name: _digest(stage / name) for name in names}


# The digests this process computed of staged files, by path, with the file's identity then.
# A stage is verified once per run, not by every effect that reads it; a file that changed
# since (another inode, size or modification time) is hashed again.
_KNOWN: dict[Path, tuple[tuple[int, int, int, int], str]] = {}


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _digest(path: Path) -> str:
    return _known(path) or _remember(path, sha256_file(path))


def _known(path: Path) -> str | None:
    known = _KNOWN.get(path)
    if known is not None and known[0] == _identity(path):
        return known[1]
    return None


def _remember(path: Path, digest: str) -> str:
    _KNOWN[path] = (_identity(path), digest)
    return digest


def discard(stage: Path) -> None:
    """The stage of a release the forge holds completely: its bytes are kept there now."""
    for path in list(_KNOWN):
        if path.parent == stage:
            del _KNOWN[path]
    shutil.rmtree(stage, ignore_errors=True)


def complete_on_forge(release: ReleaseFact | None) -> bool:
    """The release carries a SHA256SUMS and every file it lists."""
    return release is not None and release.asset(CHECKSUMS) is not None


def build(
    git: Repository,
    *,
    tag: str,
    sha: str,
    command: str | None,
    patterns: tuple[str, ...],
    env: dict[str, str],
    timeout: float,
) -> list[str]:
    """Run the build in a clean worktree of sha, stage what the globs match; their names.

    The files are not read here: they are hashed as they are uploaded."""
    stage = stage_dir(git.git_dir, tag)
    log = git.git_dir / "rcflow" / "logs" / tag / "build.log"
    with worktree(git, f"{tag}-build", sha) as tree:
        if command:
            ok, detail = run_once(command, cwd=tree, env=env, log=log, timeout=timeout)
            if not ok:
                raise EffectError(f"the asset build failed ({detail}); its output is in {log}")
        found: dict[str, Path] = {}
        for pattern in patterns:
            for match in sorted(glob.glob(pattern, root_dir=tree, recursive=True)):
                path = tree / match
                if not path.is_file():
                    continue
                if path.name in (CHECKSUMS, MARKER):
                    continue  # rcflow writes its own
                if path.name in found and found[path.name] != path:
                    raise EffectError(
                        f"two assets are named {path.name} ({found[path.name].relative_to(tree)}"
                        f" and {match}): a release's asset names must be unique"
                    )
                found[path.name] = path
        if not found:
            raise EffectError(f"[assets] files matched nothing in {tag}: {', '.join(patterns)}")
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        listed = {name: _take(path, stage / name) for name, path in sorted(found.items())}
    _write_atomically(stage / MARKER, json.dumps(listed, sort_keys=True))
    return sorted(listed)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _take(path: Path, dest: Path) -> list[int]:
    """Put a built file into the stage: moved out of the worktree (which is removed next),
    unread; or, for a link or across file systems, copied, hashed on the way. Returns its size
    and modification time, as the marker records them."""
    moved = False
    if stat.S_ISREG(path.lstat().st_mode):
        try:
            os.replace(path, dest)
            moved = True
        except OSError:
            pass
    if not moved:
        _remember(dest, copy_hashing(path, dest))
    st = dest.stat()
    return [st.st_size, st.st_mtime_ns]


def upload_missing(
    forge: Forge, releases: Mapping[str, ReleaseFact], tag: str, stage: Path, names: list[str]
) -> list[str]:
    """Upload what the release lacks, each file hashed as it goes; then SHA256SUMS, written from
    those digests, last: its presence on the forge means complete.

    `releases` is what the caller just read from the forge (one listing, not one more).
    """
    release = releases.get(tag)
    if release is None:
        raise EffectError(f"the forge has no release {tag} to upload to; re-run to finish it")
    uploaded = []
    sums: dict[str, str] = {}
    for name in sorted(names):
        path = stage / name
        if release.asset(name) is not None:
            # An earlier run uploaded it: the staged file is hashed (once) to compare.
            if not _put(forge, release, path, name, _digest(path), what="staged"):
                sums[name] = _digest(path)
                continue
        else:
            _upload(forge, tag, path, name)
        sums[name] = _digest(path)
        uploaded.append(name)
    text = render_checksums(sums)
    _write_atomically(stage / CHECKSUMS, text)
    digest = _remember(stage / CHECKSUMS, hashlib.sha256(text.encode("utf-8")).hexdigest())
    if _put(forge, release, stage / CHECKSUMS, CHECKSUMS, digest, what="staged"):
        uploaded.append(CHECKSUMS)
    return uploaded


def _upload(forge: Forge, tag: str, path: Path, name: str) -> None:
    """Upload path, learning its digest on the way: from the forge (GitHub hashes what it
    sends), else from the release's listing (the forge hashed it to store it), else by reading
    the file."""
    digest = forge.upload_asset(tag, path, name, sha256=_known(path))
    if digest is None:
        fact = forge.releases().get(tag)
        asset = fact.asset(name) if fact is not None else None
        digest = asset.sha256 if asset is not None else None
    if digest is not None:
        _remember(path, digest)


def _put(forge: Forge, release: ReleaseFact, path: Path, name: str, digest: str, what: str) -> bool:
    """Upload path as name unless the release has those bytes already; True when uploaded.

    Other bytes under that name are replaced on a draft — nobody has seen a draft, and a run
    that stopped halfway on another machine leaves its build's files there — but on a published
    release they are a conflict: what people downloaded is never swapped.
    """
    present = release.asset(name)
    if present is not None:
        if present.sha256 is None or present.sha256 == digest:
            return False
        _replaceable(release, name, present.sha256, digest, what)
        forge.delete_asset(release.tag, name)
    forge.upload_asset(release.tag, path, name, sha256=digest)
    return True


def carry(
    forge: Forge, releases: Mapping[str, ReleaseFact], source: str, tag: str, scratch: Path
) -> list[str]:
    """Copy source's assets onto tag byte for byte, each verified against source's SHA256SUMS.

    `releases` is what the caller just read from the forge. The forge copies (`copy_asset`):
    the local forge shares the stored content, GitHub downloads and uploads once; either reads
    the bytes once and refuses any whose digest is not the one the RC's SHA256SUMS lists.
    """
    origin, target = releases.get(source), releases.get(tag)
    if origin is None or target is None:
        missing = source if origin is None else tag
        raise EffectError(f"the forge has no release {missing}; re-run to finish it")
    if origin.asset(CHECKSUMS) is None:
        return []
    sums_digest = forge.download_asset(source, CHECKSUMS, scratch / CHECKSUMS)
    sums = parse_checksums((scratch / CHECKSUMS).read_text(encoding="utf-8"))
    carried = []
    for name in [*sorted(sums), CHECKSUMS]:
        digest = sums[name] if name != CHECKSUMS else sums_digest
        present = target.asset(name)
        if present is not None and present.sha256 in (None, digest):
            continue
        if present is not None:
            _replaceable(target, name, present.sha256 or "", digest, what=f"{source}'s")
            forge.delete_asset(tag, name)
        actual = forge.copy_asset(source, tag, name, digest)
        if actual != digest:
            raise EffectError(
                f"{source}'s asset {name} does not match its SHA256SUMS "
                f"({actual[:12]}… ≠ {digest[:12]}…): nothing was carried over",
                hint="the RC's assets changed after validation; cut a new RC",
            )
        carried.append(name)
    return carried


def _replaceable(release: ReleaseFact, name: str, present: str, digest: str, what: str) -> None:
    """Other bytes under name may be replaced on a draft only (see `_put`)."""
    if not release.draft:
        raise ConflictError(
            f"{release.tag} already has an asset {name} with other bytes "
            f"(sha256 {present[:12]}…, {what} {digest[:12]}…): nothing was replaced",
            hint="delete that asset on the forge if it is stray, then re-run",
        )


def git_size_policy(stage: Path, names: Iterable[str], tag: str) -> list[str]:
    """The local forge keeps asset bytes in git: refuse what a git host refuses, warn before.

    Returns the warnings; raises BlockedError (nothing tagged, nothing uploaded) on a refusal.
    """
    sizes = {name: (stage / name).stat().st_size for name in names}
    refusals, warnings = git_asset_sizes(sizes)
    if refusals:
        raise BlockedError(
            f"{tag}'s assets are too large for the local forge, which keeps them in git: "
            "nothing was tagged or uploaded",
            blockers=tuple(refusals),
            hint='set forge = "github" (assets up to 2 GiB each), or build smaller files',
        )
    return warnings
