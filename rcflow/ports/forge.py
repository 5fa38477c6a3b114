"""The Forge protocol: where releases and their assets live (the local store, or GitHub).

Both forges hold the same facts and take the same small set of writes, so a plan is the same
whichever forge carries it out; only the adapters know HTTP, JSON files or PyGithub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol, cast, runtime_checkable

from rcflow.record import dataclass

CHECKSUMS = "SHA256SUMS"
# Retraction is recorded in the release notes themselves, so any reader of the forge (a person
# on the releases page, or rcflow observing) sees it; the marker makes it unambiguous to parse.
RETRACTED_MARKER = "<!-- rcflow:retracted -->"


@dataclass(frozen=True)
class AssetFact:
    name: str
    size: int
    sha256: str | None  # hex; None when the forge does not say (then rcflow hashes a download)


@dataclass(frozen=True)
class ReleaseFact:
    """A release as the forge holds it."""

    tag: str
    title: str
    prerelease: bool
    retracted: bool
    notes: str = ""
    draft: bool = False
    latest: bool = False
    assets: tuple[AssetFact, ...] = ()
    url: str = ""

    def asset(self, name: str) -> AssetFact | None:
        return next((a for a in self.assets if a.name == name), None)


class ForgeWrites(Protocol):
    """Every forge operation that changes a release; the crash tests wrap exactly these."""

    def create_release(
        self, tag: str, title: str, notes: str, *, prerelease: bool, draft: bool
    ) -> None: ...

    def upload_asset(
        self, tag: str, path: Path, name: str, *, sha256: str | None = None
    ) -> str | None:
        """path's bytes as the asset name; sha256 is their digest when the caller knows it (the
        adapter then does not read the file a second time to learn it). Returns the digest of
        the bytes uploaded when the adapter knows it (GitHub hashes them as they are sent), or
        None: the caller then learns it from the release's listing or the file."""
        ...

    def copy_asset(self, source: str, tag: str, name: str, sha256: str) -> str:
        """source's asset name onto tag, byte for byte, when its bytes have digest sha256.

        Returns the digest of source's bytes as copied: when it is not sha256 nothing was
        copied. Each forge copies the cheapest way it can, hashing the bytes once (the local
        forge shares the stored content after hashing it; GitHub has no copy, so one download
        streamed into one upload, checked by the digest GitHub computes of what it stored).
        """
        ...

    def delete_asset(self, tag: str, name: str) -> None:
        """Remove an asset from a draft (a published release's assets are never touched)."""
        ...

    def publish_release(self, tag: str, *, latest: bool) -> None:
        """A draft becomes visible; with latest, it becomes the repository's latest release."""
        ...

    def set_latest(self, tag: str) -> None: ...

    def retract_release(self, tag: str, note: str) -> None: ...

    def delete_release(self, tag: str) -> None: ...


class Forge(ForgeWrites, Protocol):
    name: str

    def releases(self) -> Mapping[str, ReleaseFact]:
        """Every release the forge holds, drafts included, by tag (read-only)."""
        ...

    def download_asset(self, tag: str, name: str, dest: Path) -> str:
        """The asset's bytes into dest; returns their sha256, computed as they were written."""
        ...


def parse_checksums(text: str) -> dict[str, str]:
    """`sha256sum` output (`<hex>  <name>`, `*` for binary mode) → {name: hex}."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.lstrip(" ").removeprefix("*")
        if len(digest) != 64 or not name:
            raise ValueError(f"not a {CHECKSUMS} line: {line[:80]!r}")
        sums[name] = digest.lower()
    return sums


def render_checksums(sums: Mapping[str, str]) -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))


def sha256_file(path: Path) -> str:
    import hashlib  # not for `status`, which never hashes

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(BUFFER), b""):
            digest.update(block)
    return digest.hexdigest()


@runtime_checkable
class SharedByGit(Protocol):
    """A forge whose records live on a ref of the remote (the local forge).

    `observe` reads that ref's tip with the other remote refs (the one `ls-remote` it runs
    anyway) and fetches its objects with the others, then hands the tip over, so reading the
    forge costs `status` no further round trip to the remote.
    """

    ref: str

    def observed(self, tip: str | None) -> None: ...


# Asset bytes kept in git (the local forge) are pushed to the remote and stay in its history for
# good. Git hosts refuse a file above 100 MiB in a push (GitHub, and GitLab.com's default) and
# warn above 50 MiB; rcflow refuses and warns at the same sizes, before the RC is tagged.
GIT_ASSET_LIMIT = 100 * 1024 * 1024
GIT_ASSET_WARNING = 50 * 1024 * 1024


def mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def git_asset_sizes(sizes: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """(refusals, warnings) for assets of these sizes kept in git by the local forge."""
    refusals = [
        f"{name} is {mib(size)}, above the {mib(GIT_ASSET_LIMIT)} a git host accepts for one file"
        for name, size in sorted(sizes.items())
        if size > GIT_ASSET_LIMIT
    ]
    warnings = [
        f"{name} is {mib(size)}: the local forge keeps every asset in the remote's git history "
        f'for good; above {mib(GIT_ASSET_WARNING)} consider forge = "github"'
        for name, size in sorted(sizes.items())
        if GIT_ASSET_WARNING < size <= GIT_ASSET_LIMIT
    ]
    return refusals, warnings


# Assets are read and written in blocks of this size: memory stays flat whatever their size.
BUFFER = 1 << 20


class HashingWriter:
    """A binary file that hashes what is written to it: bytes are read once, copied and hashed
    in the same pass (an HTTP body or a git blob streamed into a file)."""

    def __init__(self, fh: BinaryIO) -> None:
        import hashlib

        self._fh = fh
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, block: bytes) -> int:
        self._digest.update(block)
        self.size += len(block)
        return self._fh.write(block)

    def flush(self) -> None:
        self._fh.flush()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class _Sink:
    """A file that keeps nothing (hashing a stream without storing it)."""

    def write(self, block: bytes) -> int:
        return len(block)

    def flush(self) -> None:
        pass


def hashing_sink() -> HashingWriter:
    return HashingWriter(cast(BinaryIO, _Sink()))


def copy_hashing(src: Path, dest: Path) -> str:
    """Copy src to dest and return the sha256 of the bytes copied, in one pass."""
    with src.open("rb") as fin, dest.open("wb") as fout:
        out = HashingWriter(fout)
        for block in iter(lambda: fin.read(BUFFER), b""):
            out.write(block)
    return out.hexdigest()


# -- releases read by tag (issue 14) ---------------------------------------------------------------


class ReleaseMap(Mapping[str, ReleaseFact]):
    """A forge's releases by tag, each built the first time it is read.

    A command needs the release or two it acts on, out of thousands the project made: the tags
    and which are drafts are known up front (all `forge_drift` reads of every release), the rest
    of a release only when asked for. `digest` names the whole set (the local forge's tip commit);
    None when the releases themselves are the only name.
    """

    def __init__(
        self,
        tags: Iterable[str],
        drafts: Iterable[str],
        load: Callable[[str], ReleaseFact],
        digest: str | None = None,
    ) -> None:
        self._tags = sorted(tags)
        self._known = frozenset(self._tags)
        self.drafts = frozenset(drafts) & self._known
        self.digest = digest
        self._load = load
        self._built: dict[str, ReleaseFact] = {}

    def __getitem__(self, tag: str) -> ReleaseFact:
        if tag not in self._known:
            raise KeyError(tag)
        fact = self._built.get(tag)
        if fact is None:
            fact = self._built[tag] = self._load(tag)
        return fact

    def __contains__(self, tag: object) -> bool:
        return tag in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._tags)

    def __len__(self) -> int:
        return len(self._tags)


def draft_tags(releases: Mapping[str, ReleaseFact]) -> frozenset[str]:
    """The drafts among releases, without building the others when the map knows them."""
    if isinstance(releases, ReleaseMap):
        return releases.drafts
    return frozenset(t for t, r in releases.items() if r.draft)


# -- writes that travel in the executor's push (issue 14) --------------------------------------


@runtime_checkable
class HeldWrites(Protocol):
    """A forge whose writes are commits on a ref of a git remote (the local forge), which the
    executor can hold and push itself.

    Held (`hold`), a write changes only the forge as this process reads it. `held` names the one
    commit holding every write since (`(ref, commit)`, built on the tip they read, so its push
    is a fast-forward only if nobody else wrote: the compare-and-swap), which the executor sends
    to `remote` in the same atomic push as its ledger events; then `landed` (the remote took it),
    or `drop` (refused, or never sent: nothing of it happened, the forge is read again).
    """

    ref: str

    @property
    def remote(self) -> str: ...

    def hold(self) -> None: ...

    def held(self) -> tuple[str, str] | None: ...

    def landed(self) -> None: ...

    def drop(self) -> None: ...
