"""The built-in `local` forge: releases kept in git, on a ref of the remote (`refs/rcflow/forge`).

It needs no account and no service beyond the git remote, so rehearsals, the demo and teams
without GitHub have a forge with the same protocol as GitHub's: drafts, assets with digests, a
latest release, retraction. Because the records and the asset bytes are on the remote, every
clone and every CI runner sees the same releases and can download the same assets; the copy of
the ref in this clone is only a cache.

The ref's tree:

    latest                        the latest release's tag (absent when there is none)
    index.json                    which releases there are and which are drafts (`index_text`)
    releases/<tag>.json           one record per release: title, notes, flags, assets
    assets/sha256/<hex>           asset bytes, once per content (an RC and its final share them)

Every write is one commit on the tip this clone last saw, pushed as a fast-forward: if anyone
else wrote meanwhile the push is rejected and the write is a conflict, unless what it was to do
is already there. The executor holds the writes instead (`hold`, `ports.forge.HeldWrites`): the
writes of a step's effects then become one commit that travels in the step's own atomic push,
with its tag and the ledger events recording them, and the local copy of the ref moves only
once that push landed.

Read through a valid index (`_Source`), the forge costs a command the releases it touches: a
write reads the records it changes, and its commit names the changed files and the next index,
made from this one (`_partial`). The whole read and computation (`_read`, `_changes`) remain for
trees the index does not describe, and for the writes only they can settle (`_whole`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Protocol

from rcflow.errors import BlockedError, ConflictError, EffectError
from rcflow.ports.forge import (
    GIT_ASSET_LIMIT,
    RETRACTED_MARKER,
    AssetFact,
    ReleaseFact,
    ReleaseMap,
    copy_hashing,
    mib,
    sha256_file,
)
from rcflow.record import dataclass, field

FORGE_REF = "refs/rcflow/forge"
LATEST = "latest"
RELEASES = "releases/"
ASSETS = "assets/sha256/"
# A derived index, written with every write: a read of one release need not read them all.
INDEX = "index.json"
INDEX_FORMAT = 1
# Where rcflow before the shared store kept the records, in one clone's git dir.
LEGACY_DIR = Path("rcflow") / "forge"
# Records already parsed, by blob sha (see `_Memo`): a cache in this clone, never the truth.
MEMO_FILE = Path("rcflow") / "forge-records.memo"


class Store(Protocol):
    """What the forge needs of git (`adapters.git.TreeStore`): files on a ref of the remote."""

    remote: str
    ref: str

    @property
    def git_dir(self) -> Path: ...

    def remote_tip(self) -> str | None: ...

    def entries(self, commit: str) -> dict[str, tuple[str, int]]: ...

    def top(self, commit: str) -> dict[str, str]: ...

    def entries_at(self, commit: str, paths: Sequence[str]) -> dict[str, tuple[str, int]]: ...

    def texts(self, blobs: Sequence[str]) -> dict[str, str]: ...

    def blob_to_file(self, blob: str, dest: Path) -> str: ...

    def blob_sha256(self, blob: str) -> str: ...

    def store_files(self, paths: Sequence[Path]) -> list[str]: ...

    def store_texts(self, texts: Sequence[str]) -> list[str]: ...

    def commit(
        self, parent: str | None, changes: Mapping[str, str | None], message: str
    ) -> str: ...

    def push(self, commit: str) -> None: ...

    def commit_indexed(
        self,
        parent: str,
        changes: Mapping[str, str | None],
        message: str,
        folder: str | None,
        index: str,
        render: Callable[[str | None], str],
    ) -> str: ...


@dataclass
class _State:
    """The forge as one commit of the ref holds it (or as a legacy git dir held it).

    Read whole (`source` None), `records`, `blobs` and `paths` hold every release and asset.
    Read through a valid index (`source`, a `_Source`), they hold only what this state changed
    on top of it (a record added or edited, bytes added; `gone`: releases deleted): the others
    are read from the source when asked for, so a write costs the releases it touches.
    """

    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # tag -> record
    latest: str | None = None
    blobs: dict[str, tuple[str, int]] = field(default_factory=dict)  # sha256 -> (blob, size)
    paths: dict[str, str] = field(default_factory=dict)  # tag -> its record's path in the tree
    legacy: dict[str, Path] = field(default_factory=dict)  # sha256 -> file (legacy store only)
    record_blobs: dict[str, str] = field(default_factory=dict)  # tag -> its record's blob
    source: _Source | None = None
    gone: set[str] = field(default_factory=set)  # the source's releases deleted since

    def copy(self) -> _State:
        """Records are shared with self until `own` copies the one an edit changes: a write
        costs its own record, not a copy of every release the project ever made."""
        return _State(
            dict(self.records),
            self.latest,
            dict(self.blobs),
            dict(self.paths),
            dict(self.legacy),
            dict(self.record_blobs),
            self.source,
            set(self.gone),
        )

    def own(self, tag: str) -> dict[str, Any]:
        """tag's record, this state's own copy (after `copy`, to change it)."""
        import copy  # a write's, not a status's

        record = copy.deepcopy(self.record(tag))
        self.records[tag] = record
        return record

    def get(self, tag: str) -> dict[str, Any] | None:
        found = self.records.get(tag)
        if found is None and self.source is not None and tag not in self.gone:
            return self.source.record(tag)
        return found

    def has(self, tag: str) -> bool:
        if tag in self.records:
            return True
        return self.source is not None and tag in self.source.tags and tag not in self.gone

    def put(self, tag: str, record: dict[str, Any]) -> None:
        self.records[tag] = record
        self.gone.discard(tag)

    def remove(self, tag: str) -> None:
        self.records.pop(tag, None)
        if self.source is not None and tag in self.source.tags:
            self.gone.add(tag)

    def tags(self) -> AbstractSet[str]:
        if self.source is None:
            return set(self.records)
        if not self.gone and not self.records:
            return self.source.tags  # as read: a status's case, no copy of 10,000 tags
        return (self.source.tags - self.gone) | self.records.keys()

    def drafts(self) -> list[str]:
        mine = [t for t, d in self.records.items() if d.get("draft", False)]
        if self.source is None:
            return mine
        theirs = self.source.drafts - self.gone - self.records.keys()
        return [*theirs, *mine]

    def path(self, tag: str) -> str:
        """Where tag's record is in the tree this state was committed as."""
        if self.source is None or tag in self.records:
            # Read whole: as read. Changed on a source: the commit wrote it at its usual path.
            return self.paths.get(tag, _path(tag))
        return self.source.elsewhere.get(tag) or _path(tag)

    def blob(self, digest: str) -> tuple[str, int] | None:
        """(blob, size) of the bytes stored under digest; None: not in the store."""
        found = self.blobs.get(digest)
        if found is None and self.source is not None:
            return self.source.asset(digest)
        return found

    def want(self, record: Mapping[str, Any]) -> None:
        """The store entries of a record's assets, read in one go before `present` asks."""
        if self.source is not None:
            self.source.assets([str(a.get("sha256")) for a in record.get("assets", [])])

    def present(self, asset: Mapping[str, Any]) -> bool:
        """The asset's bytes are in the store, at the size its record says."""
        held = self.blob(str(asset.get("sha256")))
        return held is not None and held[1] == int(asset.get("size", -1))

    def record(self, tag: str) -> dict[str, Any]:
        found = self.get(tag)
        if found is None:
            raise EffectError(f"the forge has no release {tag}")
        return found


class _Source:
    """The forge at one commit whose index is valid (`LocalForge._catalog`): which releases
    there are, which are drafts and where their records are, from the index alone; a record,
    or an asset's entry in the store, read from git the first time it is asked for."""

    def __init__(
        self,
        forge: LocalForge,
        tip: str,
        catalog: tuple[list[str], dict[str, str], list[str], str | None],
    ) -> None:
        listed, self.elsewhere, drafts, self.latest = catalog
        self.forge, self.tip = forge, tip
        self.tags = frozenset(listed).union(self.elsewhere)
        self.drafts = frozenset(drafts) & self.tags
        self._records: dict[str, dict[str, Any]] = {}
        self._assets: dict[str, tuple[str, int] | None] = {}

    def record(self, tag: str) -> dict[str, Any] | None:
        if tag not in self.tags:
            return None
        found = self._records.get(tag)
        if found is None:
            found = self._records[tag] = self.forge._record_at(
                self.tip, self.elsewhere.get(tag) or _path(tag), tag
            )
        return found

    def assets(self, digests: Sequence[str]) -> None:
        wanted = sorted({d for d in digests if d not in self._assets})
        if not wanted:
            return
        held = self.forge.store.entries_at(self.tip, [ASSETS + d for d in wanted])
        for digest in wanted:
            self._assets[digest] = held.get(ASSETS + digest)

    def asset(self, digest: str) -> tuple[str, int] | None:
        self.assets([digest])
        return self._assets[digest]


Edit = Callable[[_State], "_State | None"]  # the state after a write, or None: it holds already


@dataclass
class _Held:
    """Writes made while the caller holds them (`LocalForge.hold`): not committed yet."""

    tip: str | None = None  # the tip they build on, as last seen on the remote
    base: _State | None = None  # the forge at that tip
    state: _State | None = None  # the forge after them
    what: list[str] = field(default_factory=list)
    # (commit, its state, whether it imports the legacy store), once `held` built it
    built: tuple[str, _State, bool] | None = None
    releases: ReleaseMap | None = None


def _path(tag: str) -> str:
    return f"{RELEASES}{tag}.json"


def _render(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


class LocalForge:
    name = "local"
    ref = FORGE_REF

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tip: str | None = None
        self._known = False  # whether _tip is where the remote was when last looked at or written
        self._states: dict[str, _State] = {}
        self._facts: dict[str, ReleaseMap] = {}  # tip -> its releases
        # id(record) -> (record, its fact): a record object is never changed once read.
        self._built: dict[int, tuple[dict[str, Any], ReleaseFact]] = {}
        # Blobs whose bytes this process hashed: sha256 -> blob. Verified once, not per read.
        self._verified: dict[str, str] = {}
        # While the executor holds the writes (`hold`); None: each write pushes itself.
        self._hold: _Held | None = None

    @property
    def remote(self) -> str:
        return self.store.remote

    # -- where the store is ----------------------------------------------------------------

    def observed(self, tip: str | None) -> None:
        """The ref's tip on the remote, as `observe` just saw it (objects already fetched)."""
        self._tip, self._known = tip, True

    def _current(self) -> tuple[str | None, _State]:
        held = self._hold
        if held is not None and held.state is not None:
            return held.tip, held.state
        if not self._known:
            self._tip, self._known = self.store.remote_tip(), True
        return self._tip, self._load(self._tip)

    def _load(self, tip: str | None) -> _State:
        if tip is None:
            return self._legacy()
        if tip not in self._states:
            # Through the index when it describes the records beside it: a write then reads
            # the releases it changes; else (hand edits, an older rcflow) every record.
            catalog = self._catalog(tip)
            if catalog is None:
                self._states[tip] = self._read(tip)
            else:
                source = _Source(self, tip, catalog)
                self._states[tip] = _State(latest=source.latest, source=source)
        return self._states[tip]

    def _read(self, tip: str) -> _State:
        entries = self.store.entries(tip)
        records = [p for p in entries if p.startswith(RELEASES) and p.endswith(".json")]
        memo = _Memo(self.store.git_dir)
        known = memo.load()
        found: dict[str, dict[str, Any]] = {}
        for path in records:
            data = known.get(entries[path][0])
            if isinstance(data, dict) and isinstance(data.get("tag"), str):
                found[path] = data
        wanted = [entries[p][0] for p in records if p not in found]
        if LATEST in entries:
            wanted.append(entries[LATEST][0])
        texts = self.store.texts(sorted(set(wanted)))
        state = _State()
        for path in records:
            data = found.get(path)
            if data is None:
                try:
                    data = json.loads(texts[entries[path][0]])
                    str(data["tag"])
                except (KeyError, ValueError, TypeError) as exc:
                    raise EffectError(
                        f"the local forge's {path} on {FORGE_REF} ({tip[:7]}) is not a release "
                        f"record ({type(exc).__name__})",
                        hint=f"repair or remove it with a new commit on {FORGE_REF}",
                    ) from None
            tag = str(data["tag"])
            state.records[tag] = data
            state.paths[tag] = path
            state.record_blobs[tag] = entries[path][0]
        if LATEST in entries:
            state.latest = texts.get(entries[LATEST][0], "").strip() or None
        state.blobs = {p[len(ASSETS) :]: v for p, v in entries.items() if p.startswith(ASSETS)}
        if len(found) < len(records):
            memo.save({entries[state.paths[t]][0]: r for t, r in state.records.items()})
        return state

    def _legacy(self) -> _State:
        """What rcflow before the shared store kept in this clone's git dir (or nothing)."""
        root = self.store.git_dir / LEGACY_DIR
        folder = root / "releases"
        state = _State()
        if not folder.is_dir():
            return state
        for path in sorted(folder.rglob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                tag = str(data["tag"])
            except (OSError, KeyError, ValueError, TypeError):
                continue  # a half-written file of an interrupted run: it was never a release
            state.records[tag] = data
            for asset in data.get("assets", []):
                file = root / "assets" / tag / str(asset.get("name"))
                if file.is_file():
                    state.blobs[str(asset.get("sha256"))] = ("", file.stat().st_size)
                    state.legacy[str(asset.get("sha256"))] = file
        try:
            state.latest = (root / "latest").read_text(encoding="utf-8").strip() or None
        except OSError:
            state.latest = None
        return state

    # -- reads -----------------------------------------------------------------------------

    def releases(self) -> Mapping[str, ReleaseFact]:
        """Every release by tag; each built when first read (`ReleaseMap`). With the tree's
        index valid, only the index is read now: a command reads the releases it acts on, not
        the thousands before them."""
        held = self._hold
        if held is not None and held.state is not None:
            # What the writes held for the next push made of the forge, as this run sees it.
            if held.releases is None:
                state = held.state
                held.releases = ReleaseMap(
                    state.tags(), state.drafts(), lambda tag: self._fact(state, tag)
                )
            return held.releases
        if not self._known:
            self._tip, self._known = self.store.remote_tip(), True
        tip = self._tip
        known = self._facts.get(tip) if tip is not None else None
        if known is not None:
            return known
        tip, state = self._current()
        found = ReleaseMap(state.tags(), state.drafts(), lambda tag: self._fact(state, tag), tip)
        if tip is not None:
            self._facts[tip] = found
        return found

    def _fact(self, state: _State, tag: str) -> ReleaseFact:
        data = state.record(tag)
        state.want(data)
        # An asset whose bytes are not in the store is not there, whatever the record says.
        assets = tuple(
            AssetFact(str(a["name"]), int(a["size"]), str(a["sha256"]))
            for a in data.get("assets", [])
            if state.present(a)
        )
        latest = tag == state.latest
        # A write shares every record it did not change with the state before it: their
        # facts are the ones built then (a step reads the forge after each of its writes).
        held = self._built.get(id(data))
        if (
            held is not None
            and held[0] is data
            and (held[1].latest, held[1].assets)
            == (
                latest,
                assets,
            )
        ):
            return held[1]
        fact = _release_fact(tag, data, latest, assets)
        self._built[id(data)] = (data, fact)
        return fact

    def _catalog(self, tip: str) -> tuple[list[str], dict[str, str], list[str], str | None] | None:
        """(tags at their usual path, tag -> record path of the others, drafts, latest) from
        the tree's index; None when it has none or it does not describe the records there
        (written by an older rcflow, or by hand)."""
        top = self.store.top(tip)
        blob = top.get(INDEX)
        if blob is None:
            return None
        texts = self.store.texts([blob, *([top[LATEST]] if LATEST in top else [])])
        try:
            body = json.loads(texts[blob])
        except (KeyError, ValueError):
            return None
        if (
            not isinstance(body, dict)
            or body.get("v") != INDEX_FORMAT
            or body.get("releases") != top.get(RELEASES.rstrip("/"))
        ):
            return None
        tags, elsewhere, drafts = body.get("tags"), body.get("elsewhere"), body.get("drafts")
        if (
            not isinstance(tags, list)
            or not isinstance(elsewhere, dict)
            or not isinstance(drafts, list)
            or not {*map(type, tags), *map(type, drafts), *map(type, elsewhere.values())} <= {str}
        ):
            return None
        latest = texts.get(top[LATEST], "").strip() or None if LATEST in top else None
        return tags, elsewhere, drafts, latest

    def _record_at(self, tip: str, path: str, tag: str) -> dict[str, Any]:
        """tag's record, read from the tree at tip (its index says it is at path)."""
        spec = f"{tip}:{path}"
        try:
            data = json.loads(self.store.texts([spec])[spec])
            if not isinstance(data, dict) or str(data["tag"]) != tag:
                raise ValueError(tag)
            for asset in data.get("assets", []):
                str(asset["name"]), int(asset["size"]), str(asset["sha256"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise EffectError(
                f"the local forge's {path} on {FORGE_REF} ({tip[:7]}) is not a release "
                f"record ({type(exc).__name__})",
                hint=f"repair or remove it with a new commit on {FORGE_REF}",
            ) from None
        return data

    def download_asset(self, tag: str, name: str, dest: Path) -> str:
        _, state = self._current()
        asset = _asset(state, tag, name)
        held = state.blob(str(asset.get("sha256"))) if asset else None
        if asset is None or held is None:
            raise EffectError(f"the forge has no asset {name} on {tag}")
        legacy = state.legacy.get(str(asset["sha256"]))
        if legacy is not None:
            return copy_hashing(legacy, dest)
        digest = self.store.blob_to_file(held[0], dest)
        self._verified[digest] = held[0]
        return digest

    # -- writes ----------------------------------------------------------------------------

    def create_release(
        self, tag: str, title: str, notes: str, *, prerelease: bool, draft: bool = False
    ) -> None:
        def edit(state: _State) -> _State | None:
            existing = state.get(tag)
            if existing is not None:
                if bool(existing.get("prerelease")) != prerelease:
                    raise ConflictError(f"the forge already has a different release for {tag}")
                return None
            new = state.copy()
            new.put(
                tag,
                {
                    "tag": tag,
                    "title": title,
                    "notes": notes,
                    "prerelease": prerelease,
                    "draft": draft,
                    "retracted": False,
                    "assets": [],
                },
            )
            return new

        kind = ("draft " if draft else "") + ("prerelease" if prerelease else "release")
        self._write(f"create {kind} {tag}", edit)

    def upload_asset(self, tag: str, path: Path, name: str, *, sha256: str | None = None) -> None:
        size = path.stat().st_size
        if size > GIT_ASSET_LIMIT:
            raise BlockedError(
                f"{name} is {mib(size)}: the local forge keeps assets in git, and git hosts "
                f"refuse files above {mib(GIT_ASSET_LIMIT)}: nothing was uploaded",
                hint='use forge = "github" for large assets, or make the build smaller',
            )
        digest = sha256 or sha256_file(path)
        blob: list[str] = []

        def edit(state: _State) -> _State | None:
            record = state.record(tag)
            state.want(record)
            held = next((a for a in record.get("assets", []) if a.get("name") == name), None)
            if held is not None:
                if held.get("sha256") == digest and state.present(held):
                    return None
                if state.present(held):
                    raise ConflictError(f"{tag} already has an asset named {name}")
                # Its bytes never reached the store (a damaged record): the upload repairs it.
            if not blob and not (state.blob(digest) or ("",))[0]:
                # Bytes already in the store (another release's) are not written a second time.
                blob.extend(self.store.store_files([path]))
            new = state.copy()
            assets = [a for a in record.get("assets", []) if a.get("name") != name]
            assets.append({"name": name, "size": size, "sha256": digest})
            new.own(tag)["assets"] = assets
            if not (new.blob(digest) or ("",))[0]:
                new.blobs[digest] = (blob[0], size)
            return new

        self._write(f"upload {name} to {tag}", edit)

    def copy_asset(self, source: str, tag: str, name: str, sha256: str) -> str:
        """tag's record names the content source's asset is stored as: no byte is copied.

        The stored bytes are hashed once (per process) before they are shared, so content that
        is not what its address says is never carried over.
        """
        _, state = self._current()
        asset = _asset(state, source, name)
        if asset is None or state.blob(str(asset.get("sha256"))) is None:
            raise EffectError(f"the forge has no asset {name} on {source}")
        digest = str(asset["sha256"])
        actual = self._stored_digest(state, digest)
        if actual != sha256:
            return actual

        def edit(state: _State) -> _State | None:
            record = state.record(tag)
            state.want(record)
            held = _asset(state, tag, name)
            if held is not None:
                if held.get("sha256") == digest and state.present(held):
                    return None
                if state.present(held):
                    raise ConflictError(f"{tag} already has an asset named {name}")
            if not state.present(asset):
                raise EffectError(f"the forge has no asset {name} on {source}")
            new = state.copy()
            assets = [a for a in record.get("assets", []) if a.get("name") != name]
            assets.append({"name": name, "size": int(asset["size"]), "sha256": digest})
            new.own(tag)["assets"] = assets
            return new

        self._write(f"copy {name} from {source} to {tag}", edit)
        return actual

    def _stored_digest(self, state: _State, digest: str) -> str:
        """The sha256 of the bytes stored under digest, as read (once per blob per process)."""
        legacy = state.legacy.get(digest)
        if legacy is not None:
            return sha256_file(legacy)
        blob = (state.blob(digest) or ("",))[0]
        if self._verified.get(digest) != blob:
            actual = self.store.blob_sha256(blob)
            if actual != digest:
                return actual
            self._verified[digest] = blob
        return digest

    def delete_asset(self, tag: str, name: str) -> None:
        def edit(state: _State) -> _State | None:
            record = state.get(tag)
            if record is None or all(a.get("name") != name for a in record.get("assets", [])):
                return None
            new = state.copy()
            new.own(tag)["assets"] = [a for a in record.get("assets", []) if a.get("name") != name]
            return new

        self._write(f"delete {name} from {tag}", edit)

    def publish_release(self, tag: str, *, latest: bool) -> None:
        def edit(state: _State) -> _State | None:
            record = state.record(tag)
            if not record.get("draft") and (not latest or state.latest == tag):
                return None
            new = state.copy()
            new.own(tag)["draft"] = False
            if latest:
                new.latest = tag
            return new

        self._write(f"publish {tag}" + (" as latest" if latest else ""), edit)

    def set_latest(self, tag: str) -> None:
        def edit(state: _State) -> _State | None:
            state.record(tag)
            if state.latest == tag:
                return None
            new = state.copy()
            new.latest = tag
            return new

        self._write(f"mark {tag} latest", edit)

    def retract_release(self, tag: str, note: str) -> None:
        def edit(state: _State) -> _State | None:
            record = state.get(tag)
            if record is None or record.get("retracted"):
                return None
            new = state.copy()
            notes = f"{RETRACTED_MARKER}\n> **{note}**\n\n{record.get('notes', '')}"
            new.own(tag).update({"notes": notes, "prerelease": True, "retracted": True})
            if new.latest == tag:
                new.latest = None
            return new

        self._write(f"retract {tag}", edit)

    def delete_release(self, tag: str) -> None:
        def edit(state: _State) -> _State | None:
            if not state.has(tag):
                return None
            new = state.copy()
            new.remove(tag)
            if new.latest == tag:
                new.latest = None
            return new

        self._write(f"delete {tag}", edit)

    def _write(self, what: str, edit: Edit) -> None:
        """One commit on the tip last seen, pushed as a fast-forward (the compare-and-swap);
        while held, the new state only, committed and pushed by the caller (`held`)."""
        tip, state = self._current()
        new = edit(state)
        if new is None:
            return
        held = self._hold
        if held is not None:
            if held.state is None:
                held.tip, held.base = tip, state
            held.state, held.built, held.releases = new, None, None
            held.what.append(what)
            return
        commit, new, imported = self._commit(tip, state, new, what)
        try:
            self.store.push(commit)
        except ConflictError:
            # Someone wrote meanwhile: fine if what this write was for is there now.
            self._known = False
            now, current = self._current()
            if now == tip:
                raise  # refused for another reason than a race: git's own message says which
            if edit(current) is None:
                return
            raise ConflictError(
                f"{FORGE_REF} on {self.store.remote} changed while rcflow was writing "
                f"({what}): nothing was written",
                hint="re-run the step: it reads the forge again",
            ) from None
        self._now_at(commit, new, imported)

    def _commit(
        self, tip: str | None, state: _State, new: _State, what: str
    ) -> tuple[str, _State, bool]:
        """The commit on tip that turns state into new: (commit, its state, whether it imports
        the records an older rcflow kept in the git dir)."""
        imported = bool(state.legacy or (tip is None and state.records))
        if tip is not None and state.source is not None and new.source is state.source:
            partial = self._partial(state, new)
            if partial is not None:
                changes, folder, render = partial
                message = f"rcflow forge: {what}"
                commit = self.store.commit_indexed(tip, changes, message, folder, INDEX, render)
                return commit, new, False
            state, new = self._whole(tip, state, new)
        base = _State() if tip is None else state
        if imported:
            new = self._import_legacy(new)
        changes = self._changes(base, new)
        message = f"rcflow forge: {what}"
        if imported:
            message += "\n\nImported the records kept in .git/rcflow/forge by an older rcflow."
        return self.store.commit(tip, changes, message), new, imported

    def _now_at(self, commit: str, state: _State, imported: bool) -> None:
        """commit is the ref's tip on the remote now (this run pushed it)."""
        self._tip, self._known = commit, True
        self._states[commit] = state
        if imported:
            self._retire_legacy()

    # -- writes held for the caller's push (ports.forge.HeldWrites) ---------------------------

    def hold(self) -> None:
        """From now on, writes change the forge as this process sees it, and nothing else, until
        the caller pushes them (`held`, then `landed`) or forgets them (`drop`)."""
        if self._hold is None:
            self._hold = _Held()

    def held(self) -> tuple[str, str] | None:
        """(ref, commit): every write held, in one commit on the tip they read; None: none.

        One commit for them all: a step's release (created, given its assets, published) is
        one change of the forge, and the push that carries it carries the events recording it.
        """
        held = self._hold
        if held is None or held.state is None or held.base is None:
            return None
        if held.built is None:
            held.built = self._commit(held.tip, held.base, held.state, "; ".join(held.what))
        return self.ref, held.built[0]

    def landed(self) -> None:
        """The commit `held` named is the ref's tip on the remote: writes push themselves again."""
        held, self._hold = self._hold, None
        if held is not None and held.built is not None:
            self._now_at(*held.built)

    def drop(self) -> None:
        """The push was refused, or never made: the held writes did not happen. The forge is
        read from the remote again (the push may have landed before its answer was lost)."""
        held, self._hold = self._hold, None
        if held is not None and held.state is not None:
            self._known = False

    def _import_legacy(self, state: _State) -> _State:
        """The legacy records' asset files put into git, each checked against its record."""
        new = state.copy()
        # Only files still waiting for a blob (an upload in this very write brought its own).
        files = sorted((d, p) for d, p in new.legacy.items() if not new.blobs.get(d, ("",))[0])
        good = [(digest, path) for digest, path in files if sha256_file(path) == digest]
        blobs = self.store.store_files([path for _, path in good])
        for (digest, path), blob in zip(good, blobs, strict=True):
            new.blobs[digest] = (blob, path.stat().st_size)
        for digest, _ in files:
            if digest not in dict(good):
                del new.blobs[digest]  # bytes that do not match their record are not the asset
        new.legacy = {}
        return new

    def _retire_legacy(self) -> None:
        root = self.store.git_dir / LEGACY_DIR
        if root.is_dir():
            target = root.with_name("forge.imported")
            n = 1
            while target.exists():
                n += 1
                target = root.with_name(f"forge.imported.{n}")
            root.rename(target)

    def _partial(
        self, old: _State, new: _State
    ) -> tuple[dict[str, str | None], str | None, Callable[[str | None], str]] | None:
        """What `_changes` would give for old to new, both read through the same index, from
        the releases they differ in: (the tree entries but the index's, the folder the index
        names the tree of or None when no release is left, the index's text for that tree).
        None when only a read of every record can say (see `_whole`)."""
        if new.source is None or new.source.elsewhere:
            # `_changes` moves every record to its usual path, touched or not.
            return None
        changes: dict[str, str | None] = {}
        texts: dict[str, str] = {}
        lost: set[str] = set()  # bytes a changed release listed
        listed: set[str] = set()  # bytes the changed releases list now
        for tag in old.records.keys() | new.records.keys() | old.gone | new.gone:
            before, after = old.get(tag), new.get(tag)
            if after is before:
                continue
            path = _path(tag)
            if before is not None:
                lost.update(str(a.get("sha256")) for a in before.get("assets", []))
                if after is None:
                    changes[old.path(tag)] = None
            if after is not None:
                listed.update(str(a.get("sha256")) for a in after.get("assets", []))
                if before is None or after != before:
                    texts[path] = _render(after)
        if new.latest != old.latest:
            if new.latest is None:
                changes[LATEST] = None
            else:
                texts[LATEST] = new.latest + "\n"
        added = {d for d, (blob, _) in new.blobs.items() if (old.blob(d) or ("",))[0] != blob}
        if any(new.blob(d) is not None for d in (lost | added) - listed):
            # Bytes a changed release no longer lists leave the tree only if no other release
            # lists them (an RC and its final share theirs): that takes every record.
            return None
        for digest in sorted(added):
            changes[ASSETS + digest] = new.blobs[digest][0]
        paths = sorted(texts)
        changes.update(zip(paths, self.store.store_texts([texts[p] for p in paths]), strict=True))
        tags = sorted(new.tags())
        drafts = sorted(new.drafts())

        def render(tree: str | None) -> str:
            return _index_json(tree, tags, {}, drafts)

        return changes, (RELEASES if tags else None), render

    def _whole(self, tip: str, old: _State, new: _State) -> tuple[_State, _State]:
        """old, read whole from tip, and new as the same changes made to it."""
        whole = self._read(tip)
        after = whole.copy()
        for tag in old.records.keys() | new.records.keys() | old.gone | new.gone:
            before, record = old.get(tag), new.get(tag)
            if record is before:
                continue
            if record is None:
                after.records.pop(tag, None)
            else:
                after.records[tag] = record
        after.latest = new.latest
        for digest, held in new.blobs.items():
            if old.blob(digest) != held:
                after.blobs[digest] = held
        return whole, after

    def _changes(self, old: _State, new: _State) -> dict[str, str | None]:
        """The tree entries that turn old into new (path -> blob sha, None: removed)."""
        changes: dict[str, str | None] = {}
        texts: dict[str, str] = {}
        for tag, record in new.records.items():
            path = _path(tag)
            before = old.records.get(tag)
            if (record is not before and record != before) or old.paths.get(tag, path) != path:
                texts[path] = _render(record)
            if old.paths.get(tag, path) != path:
                changes[old.paths[tag]] = None
            new.paths[tag] = path
        for tag in old.records.keys() - new.records.keys():
            changes[old.paths.get(tag, _path(tag))] = None
            new.paths.pop(tag, None)
            new.record_blobs.pop(tag, None)
        if new.latest != old.latest:
            if new.latest is None:
                changes[LATEST] = None
            else:
                texts[LATEST] = new.latest + "\n"
        # Bytes no release lists any more leave the tree (history keeps them).
        used = {str(a.get("sha256")) for r in new.records.values() for a in r.get("assets", [])}
        for digest in list(new.blobs):
            if digest not in used:
                del new.blobs[digest]
        for digest, (blob, _) in new.blobs.items():
            if old.blobs.get(digest, ("",))[0] != blob:
                changes[ASSETS + digest] = blob
        for digest in old.blobs.keys() - new.blobs.keys():
            changes[ASSETS + digest] = None
        # The index is computed from the records' blob ids as git names them (SHA-1); written
        # only when git agrees with every id computed here (a SHA-256 repository: no index).
        expected = {p: blob_sha(t.encode("utf-8")) for p, t in texts.items()}
        by_path = {new.paths[t]: t for t in new.records}
        for path, blob in expected.items():
            if path in by_path:
                new.record_blobs[by_path[path]] = blob
        texts[INDEX] = index_text(
            {new.paths[t]: (new.record_blobs.get(t, ""), r) for t, r in new.records.items()}
        )
        paths = sorted(texts)
        stored = dict(zip(paths, self.store.store_texts([texts[p] for p in paths]), strict=True))
        changes.update(stored)
        if any(stored[p] != blob for p, blob in expected.items()):
            changes[INDEX] = None
            for path, blob in stored.items():
                if path in by_path:
                    new.record_blobs[by_path[path]] = blob
        return changes


def _asset(state: _State, tag: str, name: str) -> dict[str, Any] | None:
    record = state.get(tag) or {}
    found: dict[str, Any] | None = next(
        (a for a in record.get("assets", []) if a.get("name") == name), None
    )
    return found


class _Memo:
    """Records parsed before, by their blob's sha, in this clone's git dir.

    A blob's sha names its bytes, so a record found here is the record the ref holds: reading
    10,000 releases costs one file instead of 10,000 blobs read and parsed. It is a cache, never
    the truth: a fresh clone (no memo), a damaged or foreign memo, or one a read cannot write
    gives the same releases, read from git.
    """

    VERSION = 1

    def __init__(self, git_dir: Path) -> None:
        self.path = git_dir / MEMO_FILE

    def load(self) -> dict[str, Any]:
        try:
            body = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(body, dict) or body.get("v") != self.VERSION:
            return {}
        found = body.get("records")
        return found if isinstance(found, dict) else {}

    def save(self, records: Mapping[str, dict[str, Any]]) -> None:
        """The records of one tree (older ones leave the memo with the tree that held them)."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            body = {"v": self.VERSION, "records": dict(records)}
            tmp.write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
            tmp.replace(self.path)
        except (OSError, ValueError):
            tmp.unlink(missing_ok=True)  # a read-only clone reads git every time: still right


def _release_fact(
    tag: str, data: Mapping[str, Any], latest: bool, assets: tuple[AssetFact, ...]
) -> ReleaseFact:
    return ReleaseFact(
        tag=tag,
        title=str(data.get("title", tag)),
        prerelease=bool(data.get("prerelease")),
        retracted=bool(data.get("retracted", False)),
        notes=str(data.get("notes", "")),
        draft=bool(data.get("draft", False)),
        latest=latest,
        assets=assets,
    )


def blob_sha(data: bytes) -> str:
    """The id git gives a blob of data (SHA-1 object format)."""
    import hashlib  # a forge write's, not a status's

    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _tree_sha(files: Mapping[str, str]) -> str | None:
    """The id git gives the tree of files (relative path -> blob id, SHA-1 format, mode 100644);
    None for no files (git has no empty folder)."""
    if not files:
        return None
    import hashlib  # a forge write's, not a status's

    root: dict[str, Any] = {}
    for path, blob in files.items():
        node = root
        *folders, name = path.split("/")
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node[name] = blob

    def write(node: Mapping[str, Any]) -> bytes:
        rows = []
        for name, value in node.items():
            if isinstance(value, dict):
                # git orders a folder as its name with the slash: "a/" after "a.json"
                rows.append((name.encode(), b"40000 " + name[:-1].encode(), write(value)))
            else:
                rows.append((name.encode(), b"100644 " + name.encode(), bytes.fromhex(value)))
        rows.sort(key=lambda row: row[0])
        body = b"".join(mode_name + b"\0" + sha for _, mode_name, sha in rows)
        return hashlib.sha1(b"tree %d\0" % len(body) + body, usedforsecurity=False).digest()

    return write(root).hex()


def index_text(records: Mapping[str, tuple[str, Mapping[str, Any]]]) -> str:
    """The forge's index for its records (path -> (blob id, record)): every tag, where its
    record is when not at its usual path, the drafts, and the id of the `releases/` tree it
    describes. A reader uses it only while that tree is the one beside it, so records written
    by an older rcflow or by hand are read whole, as before the index."""
    tags: list[str] = []
    elsewhere: dict[str, str] = {}
    drafts: list[str] = []
    files: dict[str, str] = {}
    for path, (blob, record) in records.items():
        tag = str(record["tag"])
        if path == _path(tag):
            tags.append(tag)
        else:
            elsewhere[tag] = path
        if record.get("draft", False):
            drafts.append(tag)
        files[path[len(RELEASES) :]] = blob
    releases = _tree_sha(files) if all(files.values()) else ""
    return _index_json(releases, sorted(tags), elsewhere, sorted(drafts))


def _index_json(
    releases: str | None, tags: list[str], elsewhere: Mapping[str, str], drafts: list[str]
) -> str:
    """index.json's text (tags and drafts sorted)."""
    body = {
        "v": INDEX_FORMAT,
        "releases": releases,
        "tags": tags,
        "elsewhere": elsewhere,
        "drafts": drafts,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n"
