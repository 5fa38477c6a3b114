"""The git port: what rcflow writes to a repository, as a protocol.

`GitWrites` lists every git operation that changes a repository or a remote. The executor is the
only caller; the test suite's crash injection wraps exactly these methods (see `write_methods`),
so a new write added here is covered by every crash-after-each-write test without a hand-kept list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


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


def write_methods(port: type) -> tuple[str, ...]:
    """The public methods a write-port protocol declares, in declaration order."""
    return tuple(
        name for name, value in vars(port).items() if callable(value) and not name.startswith("_")
    )
