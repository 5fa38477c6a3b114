"""Release assets: built once from the RC commit, staged with their checksums, uploaded as is.

The stage (`<git dir>/rcflow/assets/<tag>/`) is what makes re-runs safe with builds that are not
reproducible: a run that stopped halfway uploads the files it already built, never a rebuild
whose bytes differ from the half that is on the forge. `SHA256SUMS` is written last, so a stage
with it is complete. Once the forge holds the release's `SHA256SUMS` the stage has done its job
and is removed: the forge keeps the one copy.

Each asset is read once per step: moved (not copied) out of the build's worktree and hashed,
uploaded with the digest just computed; a stage left by an earlier run is verified once.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
from collections.abc import Mapping
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


def staged(stage: Path) -> dict[str, str] | None:
    """The staged files and digests, when the stage is complete and intact."""
    sums_path = stage / CHECKSUMS
    if not sums_path.is_file():
        return None
    sums = parse_checksums(sums_path.read_text(encoding="utf-8"))
    for name, digest in sums.items():
        path = stage / name
        if not path.is_file() or _digest(path) != digest:
            return None
    return sums


# The digests this process computed of staged files, by path, with the file's identity then.
# A stage is verified once per run, not by every effect that reads it; a file that changed
# since (another inode, size or modification time) is hashed again.
_KNOWN: dict[Path, tuple[tuple[int, int, int, int], str]] = {}


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _digest(path: Path) -> str:
    known = _KNOWN.get(path)
    if known is not None and known[0] == _identity(path):
        return known[1]
    return _remember(path, sha256_file(path))


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
) -> dict[str, str]:
    """Run the build in a clean worktree of sha, stage what the globs match; {name: sha256}."""
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
                if path.name == CHECKSUMS:
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
        sums = {name: _take(path, stage / name) for name, path in sorted(found.items())}
    tmp = stage / f".{CHECKSUMS}.tmp"
    tmp.write_text(render_checksums(sums), encoding="utf-8")
    os.replace(tmp, stage / CHECKSUMS)
    return sums


def _take(path: Path, dest: Path) -> str:
    """Put a built file into the stage, reading it once: moved out of the worktree (which is
    removed next) and hashed, or, for a link or across file systems, copied while hashed."""
    if stat.S_ISREG(path.lstat().st_mode):
        try:
            os.replace(path, dest)
        except OSError:
            pass
        else:
            return _remember(dest, sha256_file(dest))
    return _remember(dest, copy_hashing(path, dest))


def upload_missing(
    forge: Forge, releases: Mapping[str, ReleaseFact], tag: str, stage: Path, sums: dict[str, str]
) -> list[str]:
    """Upload what the release lacks; SHA256SUMS last, so its presence means complete.

    `releases` is what the caller just read from the forge (one listing, not one more).
    """
    release = releases.get(tag)
    if release is None:
        raise EffectError(f"the forge has no release {tag} to upload to; re-run to finish it")
    uploaded = []
    for name in [*sorted(sums), CHECKSUMS]:
        digest = sums[name] if name != CHECKSUMS else _digest(stage / CHECKSUMS)
        if _put(forge, release, stage / name, name, digest, what="staged"):
            uploaded.append(name)
    return uploaded


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


def git_size_policy(stage: Path, sums: Mapping[str, str], tag: str) -> list[str]:
    """The local forge keeps asset bytes in git: refuse what a git host refuses, warn before.

    Returns the warnings; raises BlockedError (nothing tagged, nothing uploaded) on a refusal.
    """
    sizes = {name: (stage / name).stat().st_size for name in sums}
    refusals, warnings = git_asset_sizes(sizes)
    if refusals:
        raise BlockedError(
            f"{tag}'s assets are too large for the local forge, which keeps them in git: "
            "nothing was tagged or uploaded",
            blockers=tuple(refusals),
            hint='set forge = "github" (assets up to 2 GiB each), or build smaller files',
        )
    return warnings
