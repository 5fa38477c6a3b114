"""Observe: gather the facts into a Snapshot, read-only, in a handful of git processes.

No local ref, file or ledger entry is written here (not even FETCH_HEAD): objects the remote
has and this clone lacks are fetched into the object store only, so a dry run changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rcflow.errors import RcflowError
from rcflow.model.config import (
    CONFIG_FILE,
    PYPROJECT,
    Config,
    tag_spelling,
)
from rcflow.model.events import EventKind
from rcflow.model.ledger import CHECKPOINT_FILE, LEDGER_REF, Event, assemble, load_checkpoint
from rcflow.model.ledger import covers as ledger_covers
from rcflow.model.snapshot import Snapshot, VersionFileFact
from rcflow.model.tags import TagVersions
from rcflow.ports.forge import Forge, SharedByGit
from rcflow.ports.git import GitReads, LogEntry

if TYPE_CHECKING:
    from rcflow.model.conventional import Commit

# The first release's changelog and tag message need commits since the start of history; a
# bound keeps a 100,000-commit import from being read into memory to render a changelog.
MAX_COMMITS = 2000


def _events(
    git: GitReads,
    tip: str | None,
    config: Config,
    known: tuple[str, tuple[Event, ...]] | None = None,
) -> tuple[Event, ...]:
    """What commands read of the ledger: the newest checkpoint plus the events since it.

    A ledger without one (written by an older rcflow, or an old rcflow appended more than
    `_PROBE` events since), or a checkpoint rcflow cannot use, is read whole, as before.
    `known`: (tip, events) this run already holds; the same tip is not read again.
    """
    if not tip:
        return ()
    if known is not None and known[0] == tip:
        return known[1]
    spelling = {"tag_prefix": config.tag_prefix, "rc_token": config.rc_token}
    at_tip = f"{tip}:{CHECKPOINT_FILE}"
    texts = git.read_blobs([tip, at_tip])
    loaded = load_checkpoint(texts.get(at_tip), **spelling)
    checkpoint, promoted = loaded if loaded is not None else (None, None)
    recent: list[Event] = []
    if checkpoint is not None:
        _, _, message = (texts.get(tip) or "").partition("\n\n")
        event = Event.from_message(tip, message)
        recent = [event] if event is not None else []
    else:
        entries = git.log(tip, max_count=_PROBE)
        blobs = git.read_blobs([f"{e.sha}:{CHECKPOINT_FILE}" for e in entries])
        for i, entry in enumerate(entries):
            loaded = load_checkpoint(blobs.get(f"{entry.sha}:{CHECKPOINT_FILE}"), **spelling)
            if loaded is not None:
                checkpoint, promoted = loaded
                recent = _parsed(reversed(entries[: i + 1]))
                break
    if checkpoint is not None:
        events = assemble(checkpoint, recent, **spelling, promoted=promoted)
        if promoted is not None:
            promoted = [*promoted, *(e.key for e in recent if e.kind == EventKind.PROMOTED)]
        if ledger_covers(events, **spelling, promoted=promoted):
            return events
    return tuple(_parsed(git.log(tip, reverse=True)))


# Appends an older rcflow made on top of the newest checkpoint that are looked through for it.
_PROBE = 64


def _parsed(entries: Iterable[LogEntry]) -> list[Event]:
    events = []
    for entry in entries:
        event = Event.from_message(entry.sha, f"{entry.subject}\n\n{entry.body}")
        if event is not None:
            events.append(event)
    return events


def _read_work(root: Path, rel: str) -> str | None:
    try:
        with (root / rel).open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def observe(
    git: GitReads,
    config: Config,
    forge: Forge,
    *,
    with_commits: bool = True,
    ledger: tuple[str, tuple[Event, ...]] | None = None,
    read_commits: bool | None = None,
) -> Snapshot:
    """Facts for a plan (with_commits, the default) or for a read-only view (without).

    `read_commits=False`: a plan's facts but the commit messages (doctor checks git's identity,
    and reads no changelog).

    `ledger`: (tip, events) the caller already holds (a step's writer after its last append):
    when the remote's ledger is still at that tip, it is not read again.
    """
    now = time.time()
    remote_name = config.remote
    paths = [f.path for f in config.version_files]
    if config.changelog:
        paths.append(config.changelog)
    # The committed configuration rides along: when the RC is HEAD, that is its config.
    config_paths = (CONFIG_FILE, PYPROJECT)
    # A forge kept on a ref of the remote is read with the other refs, not by another process.
    forge_ref = forge.ref if isinstance(forge, SharedByGit) else None
    status, local_refs, remote, head_texts, identity = git.first_look(
        remote_name,
        (
            "refs/tags",
            LEDGER_REF,
            f"refs/remotes/{remote_name}",
            *([forge_ref] if forge_ref else []),
        ),
        [*paths, *(p for p in config_paths if p not in paths)],
        identity=with_commits,
    )

    local_tags: dict[str, str] = {}
    local_ledger: str | None = None
    local_forge: str | None = None
    tracking: dict[str, str] = {}
    for ref in local_refs:
        if ref.name.startswith("refs/tags/"):
            name = ref.name[len("refs/tags/") :]
            local_tags[name] = ref.commit
        elif ref.name == LEDGER_REF:
            local_ledger = ref.sha
        elif ref.name == forge_ref:
            local_forge = ref.sha
        else:
            tracking[ref.name.removeprefix(f"refs/remotes/{remote_name}/")] = ref.sha

    remote_tags = {
        name[len("refs/tags/") :]: sha
        for name, sha in remote.refs.items()
        if name.startswith("refs/tags/")
    }
    # Each tag matched once, here and there together: only ours are kept, by version.
    both = {**local_tags, **remote_tags}
    versions = TagVersions(both, config)
    if len(versions) < len(both):  # another's tags among them; a set lookup each, no call
        ours = versions.names()
        local_tags = {name: sha for name, sha in local_tags.items() if name in ours}
        remote_tags = {name: sha for name, sha in remote_tags.items() if name in ours}
    release_branch = (
        config.branch or remote.default_branch or tracking.get("HEAD") or status.branch or "main"
    )
    if release_branch.startswith("refs/remotes/"):
        release_branch = release_branch.split("/", 3)[3]
    remote_branch = remote.refs.get(f"refs/heads/{release_branch}")
    remote_ledger = remote.refs.get(LEDGER_REF) if remote.reachable else local_ledger
    # Offline, the forge as this clone last saw it (its copy of the ref is that cache).
    remote_forge = (
        (remote.refs.get(forge_ref) if remote.reachable else local_forge) if forge_ref else None
    )

    # Fetch objects (never refs) this clone lacks: ledger, RC commits, branch tip, forge.
    wanted: dict[str, str] = {}
    if remote_ledger:
        wanted[LEDGER_REF] = remote_ledger
    if forge_ref and remote_forge:
        wanted[forge_ref] = remote_forge
    for name, sha in remote_tags.items():
        if local_tags.get(name) != sha:
            wanted[f"refs/tags/{name}"] = sha
    if remote_branch and remote_branch != status.head:
        wanted[f"refs/heads/{release_branch}"] = remote_branch
    if wanted and remote.reachable:
        present = git.has_objects(wanted.values())
        missing = [ref for ref, sha in wanted.items() if sha not in present]
        git.fetch_objects(remote_name, missing)

    head_on_remote = False
    remote_ahead = False
    if status.head and remote_branch:
        if remote_branch == status.head:
            head_on_remote = True
        else:
            head_on_remote = git.is_ancestor(status.head, remote_branch)
            remote_ahead = not git.is_ancestor(remote_branch, status.head)

    tags = {**local_tags, **remote_tags}
    rc_configs = _rc_configs(git, versions, tags, status.head, head_texts)
    remote_files = None
    if remote_branch and remote_branch != status.head and remote.reachable and paths:
        remote_files = git.texts_at(remote_branch, paths)

    root = git.root
    files = tuple(
        VersionFileFact(path, head_texts.get(path), _read_work(root, path)) for path in paths
    )

    commits: tuple[Commit, ...] = ()
    if (with_commits if read_commits is None else read_commits) and status.head:
        from rcflow.model.conventional import Commit  # only plans read commit messages

        since = versions.finals[max(versions.finals)] if versions.finals else None
        base = local_tags.get(since) or remote_tags.get(since) if since else None
        entries: list[LogEntry] = git.log(
            f"{base}..HEAD" if base else "HEAD", max_count=MAX_COMMITS
        )
        commits = tuple(Commit(e.sha, e.subject, e.body) for e in entries)

    # A forge that cannot be read (no token, GitHub down) still leaves git's facts to show;
    # the steps refuse on forge_error before changing anything.
    forge_error: str | None = None
    if isinstance(forge, SharedByGit):
        forge.observed(remote_forge)
    try:
        releases = forge.releases()
    except RcflowError as exc:
        releases, forge_error = {}, exc.message

    return Snapshot(
        root=str(root),
        git_dir=str(git.git_dir),
        now=now,
        head=status.head,
        branch=status.branch,
        release_branch=release_branch,
        remote=remote_name,
        dirty=status.dirty,
        identity=identity,
        local_tags=local_tags,
        remote_tags=remote_tags,
        remote_reachable=remote.reachable,
        remote_error=remote.error,
        remote_branch=remote_branch,
        head_on_remote=head_on_remote,
        remote_ahead=remote_ahead,
        ledger=_events(git, remote_ledger or local_ledger, config, ledger),
        ledger_tip=remote_ledger,
        local_ledger_tip=local_ledger,
        files=files,
        commits_since_final=commits,
        releases=releases,
        forge=forge.name,
        forge_error=forge_error,
        shallow=(git.git_dir / "shallow").exists(),
        rc_configs=rc_configs,
        remote_files=remote_files,
        tag_versions=versions,
        tag_spelling=tag_spelling(config),
    )


def _rc_configs(
    git: GitReads,
    parsed: TagVersions,
    tags: dict[str, str],
    head: str | None,
    head_texts: dict[str, str | None],
) -> dict[str, tuple[str | None, str | None]]:
    """The configuration committed at each RC of a version not released yet.

    HEAD's was read with the version files; any other RC commit costs one `cat-file --batch`
    for all of them (none at all when no RC is in flight).
    """
    # The bases above the newest final: thousands of tags below it are not looked at.
    top = max(parsed.finals, default=None)
    shas = {
        tags[name]
        for base in parsed.pre_release_bases()
        if top is None or base > top
        for name in parsed.pre_releases(base)
        if tags[name]
    }
    found: dict[str, tuple[str | None, str | None]] = {}
    config_specs = (f":{CONFIG_FILE}", f":{PYPROJECT}")
    if head in shas:
        found[head] = (head_texts.get(CONFIG_FILE), head_texts.get(PYPROJECT))
    others = sorted(shas - set(found))
    # The commit itself too: a commit this clone lacks (an unreachable remote) says nothing
    # about its configuration, where a missing file means "no configuration".
    texts = git.read_blobs([f"{sha}{p}" for sha in others for p in ("", *config_specs)])
    for sha in others:
        if texts.get(sha) is not None:
            found[sha] = (texts.get(f"{sha}:{CONFIG_FILE}"), texts.get(f"{sha}:{PYPROJECT}"))
    return found


def ledger_tip(git: GitReads, config: Config) -> str | None:
    """Where the remote's ledger is, its commits fetched (never a ref written); this clone's
    copy when the remote cannot be reached. What `rcflow log` reads from, without the rest of
    `observe`."""
    try:
        tip = git.remote_ref(config.remote, LEDGER_REF)
    except RcflowError:
        return git.resolve(LEDGER_REF)
    if tip and not git.has_objects([tip]):
        git.fetch_objects(config.remote, [LEDGER_REF])
    return tip


def history(git: GitReads, tip: str | None, *, oldest_first: bool = False) -> Iterator[Event]:
    """Every event of the ledger, newest first (or oldest first), read as git walks it."""
    if not tip:
        return
    for entry in git.log_stream(tip, reverse=oldest_first):
        event = Event.from_message(entry.sha, f"{entry.subject}\n\n{entry.body}")
        if event is not None:
            yield event
