"""The git port: what rcflow reads from and writes to a repository, as protocols.

`GitWrites` lists every git operation that changes a repository or a remote. The executor is the
only caller; the test suite's crash injection wraps exactly these methods (see `write_methods`),
so a new write added here is covered by every crash-after-each-write test without a hand-kept list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from rcflow.record import dataclass


@dataclass(frozen=True)
class RefFact:
    name: str  # full ref name: refs/tags/v1.4.0
    sha: str  # the object the ref points at (a tag object for annotated tags)
    commit: str  # the commit it peels to


@dataclass(frozen=True)
class StatusFact:
    head: str | None  # None on an unborn branch
    branch: str | None  # None when detached
    dirty: tuple[str, ...]  # tracked paths with staged or unstaged changes


@dataclass(frozen=True)
class RemoteFacts:
    reachable: bool
    error: str | None
    default_branch: str | None
    refs: Mapping[str, str]  # ref name -> peeled commit (tags) or object sha


@dataclass(frozen=True)
class LogEntry:
    sha: str
    subject: str
    body: str


class GitReads(Protocol):
    """What the engine reads from a repository (observe, the executor's re-checks, validations)."""

    @property
    def root(self) -> Path: ...

    @property
    def git_dir(self) -> Path: ...

    def status(self) -> StatusFact: ...

    def first_look(
        self, remote: str, ref_patterns: Sequence[str], paths: Sequence[str], *, identity: bool
    ) -> tuple[StatusFact, list[RefFact], RemoteFacts, dict[str, str | None], str | None]: ...

    def refs(self, *patterns: str) -> list[RefFact]: ...

    def has_objects(self, shas: Iterable[str]) -> set[str]: ...

    def fetch_objects(self, remote: str, refs: Sequence[str]) -> None:
        """Fetch the objects behind remote refs; no local ref is written."""
        ...

    def is_ancestor(self, ancestor: str, descendant: str) -> bool: ...

    def log(
        self, rev_range: str, *, max_count: int | None = None, reverse: bool = False
    ) -> list[LogEntry]: ...

    def head(self) -> tuple[str, tuple[str, ...], str] | None:
        """(sha, parents, subject) of HEAD, or None on an unborn branch."""
        ...

    def resolve(self, rev: str) -> str | None: ...

    def remote_ref(self, remote: str, ref: str) -> str | None: ...

    def changed_lines(self, old: str, new: str) -> list[tuple[str, str, str]]: ...

    def read_blobs(self, specs: Sequence[str]) -> dict[str, str | None]: ...

    def texts_at(self, rev: str, paths: Sequence[str]) -> dict[str, str | None]: ...

    def log_stream(self, rev: str, *, reverse: bool = False) -> Iterator[LogEntry]:
        """`log`, newest first (oldest with reverse), read as git writes it: stop early at will."""
        ...


class GitWrites(Protocol):
    def write_files(self, contents: Mapping[str, str]) -> None:
        """Write every file or none."""
        ...

    def commit(self, paths: Sequence[str], message: str) -> str: ...

    def create_tag(self, name: str, sha: str, message: str) -> None: ...

    def delete_tag(self, name: str) -> None: ...

    def push(self, remote: str, refspecs: Sequence[str]) -> None:
        """Push atomically; a rejection is a conflict."""
        ...

    def commit_tree(self, message: str, parent: str | None) -> str: ...

    def update_ref(self, ref: str, new: str) -> None: ...

    def reset_keep(self, sha: str) -> None: ...

    def reset_mixed(self, sha: str) -> None: ...

    def revert_commit(self, sha: str, message: str) -> str: ...

    def commit_tree_files(self, message: str, parent: str | None, files: Mapping[str, str]) -> str:
        """A commit (not on any ref) whose tree holds exactly files (name -> text)."""
        ...


class Repository(GitReads, GitWrites, Protocol):
    """The whole repository the engine works on: its reads, its writes, and the scratch
    worktrees validations and builds run in (which change neither the work tree nor a ref)."""

    def worktree_add(self, path: Path, sha: str) -> None: ...

    def worktree_remove(self, path: Path) -> None: ...

    def restore_paths(self, paths: Sequence[str]) -> None:
        """Put paths back as HEAD has them (after a failed commit)."""
        ...


def write_methods(port: type) -> tuple[str, ...]:
    """The public methods a write-port protocol declares, in declaration order."""
    return tuple(
        name for name, value in vars(port).items() if callable(value) and not name.startswith("_")
    )
