"""Snapshot: the immutable facts one command observed, and their fingerprint.

Facts only — what git, the remote, the ledger and the forge say. What they mean (the state)
is computed by `states.classify`; what to do about it by the steps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rcflow.model.ledger import Event
from rcflow.ports.forge import ReleaseFact, ReleaseMap
from rcflow.record import dataclass, field

if TYPE_CHECKING:
    from rcflow.model.conventional import Commit
    from rcflow.model.version import Version


@dataclass(frozen=True)
class VersionFileFact:
    path: str
    head_text: str | None  # the file at HEAD (None: not in HEAD)
    work_text: str | None  # the file in the work tree (None: missing)


@dataclass(frozen=True)
class Snapshot:
    root: str
    git_dir: str
    now: float
    head: str | None
    branch: str | None
    release_branch: str
    remote: str
    dirty: tuple[str, ...]
    identity: str | None
    local_tags: Mapping[str, str]  # our tags only: name -> commit
    remote_tags: Mapping[str, str]
    remote_reachable: bool
    remote_error: str | None
    remote_branch: str | None  # the release branch's commit on the remote
    head_on_remote: bool  # HEAD is the remote branch tip or one of its ancestors
    remote_ahead: bool  # the remote branch has commits HEAD lacks
    ledger: tuple[Event, ...]
    ledger_tip: str | None  # the remote's ledger tip (the compare-and-swap base)
    local_ledger_tip: str | None
    files: tuple[VersionFileFact, ...]
    commits_since_final: tuple[Commit, ...]  # newest first, since the last final tag
    releases: Mapping[str, ReleaseFact] = field(default_factory=dict)
    shallow: bool = False  # a shallow clone (a CI checkout without fetch-depth: 0)
    forge: str = "local"
    forge_error: str | None = None  # the forge could not be read: releases is empty, not known
    # The configuration committed at each RC commit in flight: sha -> (rcflow.toml,
    # pyproject.toml) texts, None where absent. An RC's validations are its own commit's.
    rc_configs: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # The version files on the remote branch when HEAD is not its tip (None: as at HEAD).
    remote_files: Mapping[str, str | None] | None = None
    # Our tags' versions as observe parsed them (each tag once), under `tag_spelling`'s
    # configuration; a reading with another spelling parses the tags itself.
    tag_versions: Mapping[str, Version] = field(default_factory=dict)
    tag_spelling: tuple[object, ...] | None = None

    def fingerprint(self) -> str:
        """A digest of every fact a plan depends on; a reviewed plan is refused when it changed."""
        facts = {
            "head": self.head,
            "branch": self.branch,
            "dirty": sorted(self.dirty),
            # Digested apart: thousands of tags as JSON pairs were most of a step's fingerprint.
            "local_tags": _pairs_digest(self.local_tags),
            "remote_tags": _pairs_digest(self.remote_tags),
            "remote_branch": self.remote_branch,
            "ledger": self.ledger_tip,
            "files": [(f.path, f.head_text, f.work_text) for f in self.files],
            # A forge whose releases have a name for the whole set (the local forge's tip) is
            # named by it: thousands of releases are not read to fingerprint a plan.
            "releases": self.releases.digest
            if isinstance(self.releases, ReleaseMap) and self.releases.digest is not None
            else sorted(
                (t, r.prerelease, r.retracted, r.draft, sorted(a.name for a in r.assets))
                for t, r in self.releases.items()
            ),
        }
        import hashlib  # not at import: status never fingerprints

        blob = json.dumps(facts, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def tag_commit(self, tag: str) -> str | None:
        """Where a tag points, preferring the remote (the shared truth)."""
        return self.remote_tags.get(tag) or self.local_tags.get(tag)

    @property
    def all_tags(self) -> set[str]:
        return set(self.local_tags) | set(self.remote_tags)

    def parsed_tags(self, spelling: tuple[object, ...]) -> Mapping[str, Version] | None:
        """Every one of our tags that names a version, parsed under spelling; None when observe
        parsed them under another (or not at all)."""
        return self.tag_versions if spelling == self.tag_spelling else None


def _pairs_digest(pairs: Mapping[str, str]) -> str:
    """A digest of {name: sha}: one line per pair, by name (a tag name holds no space or
    newline, a sha neither: the lines cannot run together)."""
    import hashlib

    text = "\n".join(f"{name} {pairs[name]}" for name in sorted(pairs))
    return hashlib.sha256(text.encode()).hexdigest()
