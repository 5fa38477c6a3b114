"""Views: what `status` and every step report, computed from the model once, rendered by the CLI.

The console, the JSON document and the GitHub Actions outputs all read the same `StatusView`,
so a fact such as "in sync" is decided here from the snapshot and the classified release, never
from the wording of a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rcflow.model.ledger import current_lease, unstubbed
from rcflow.model.version import tag_name
from rcflow.record import dataclass

if TYPE_CHECKING:
    from rcflow.model.config import Config
    from rcflow.model.ledger import Event
    from rcflow.model.snapshot import Snapshot
    from rcflow.model.states import Release


@dataclass(frozen=True)
class StatusView:
    """The release as data. `to_json()` is the `status --json` document (its schema is stable)."""

    state: str
    version: str | None  # the last release
    target: str | None  # the version in flight
    rc: int | None
    tag: str | None  # the tag the release is about: the latest RC, else the last final
    sha: str | None
    next: tuple[str, ...]
    branch: str | None
    release_branch: str
    head: str | None
    files_version: str | None
    files_dev: str | None
    in_sync: bool  # the remote is reachable, HEAD matches its branch, and every tag agrees
    branch_sync: str | None  # in sync, ahead, behind, diverged, missing; None: cannot be told
    remote: str
    remote_reachable: bool
    problems: tuple[str, ...]
    candidates: tuple[Mapping[str, Any], ...]
    withdrawn: tuple[str, ...]
    retracted: tuple[str, ...]
    forge: Mapping[str, Any]
    lease: Mapping[str, Any] | None
    artifacts: tuple[Mapping[str, Any], ...]
    stage: str | None = None  # the current stage of the ladder
    stages: tuple[Mapping[str, Any], ...] = ()  # every stage: its tags, validations, soak
    moves: tuple[str, ...] = ()  # the ladder moves legal now (`rc --stage`, `promote --to`)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "version": self.version,
            "target": self.target,
            "rc": self.rc,
            "tag": self.tag,
            "sha": self.sha,
            "next": list(self.next),
            "branch": self.branch,
            "release_branch": self.release_branch,
            "head": self.head,
            "files_version": self.files_version,
            "files_dev": self.files_dev,
            "in_sync": self.in_sync,
            "branch_sync": self.branch_sync,
            "remote": self.remote,
            "remote_reachable": self.remote_reachable,
            "problems": list(self.problems),
            "candidates": [dict(c) for c in self.candidates],
            "withdrawn": list(self.withdrawn),
            "retracted": list(self.retracted),
            "forge": dict(self.forge),
            "lease": None if self.lease is None else dict(self.lease),
            "artifacts": [dict(a) for a in self.artifacts],
            "stage": self.stage,
            "stages": [dict(s) for s in self.stages],
            "moves": list(self.moves),
        }

    @property
    def subject(self) -> str | None:
        """What the release is about in one word: its tag, else the version in flight or out."""
        return self.tag or self.target or self.version


def status_view(snap: Snapshot, release: Release, config: Config) -> StatusView:
    from rcflow.model.states import (
        State,
        candidate_state,
        forge_drift,
        ladder_moves,
        ladder_view,
        pending_dispatches,
    )

    prefix, token = config.tag_prefix, config.rc_token
    latest = release.latest
    if latest is not None:
        tag: str | None = latest.tag
    elif release.target is not None:
        tag = None
    elif release.last_final is not None:
        tag = tag_name(release.last_final, tag_prefix=prefix, rc_token=token)
    else:
        tag = None
    lease = current_lease(snap.ledger)
    branch_sync = _branch_sync(snap)
    return StatusView(
        state=release.state.value,
        version=str(release.last_final) if release.last_final else None,
        target=str(release.target) if release.target else None,
        rc=latest.number if latest else None,
        tag=tag,
        sha=latest.sha if latest else None,
        next=_ladder_next(release, config),
        branch=snap.branch,
        release_branch=snap.release_branch,
        head=snap.head,
        files_version=str(release.files_version) if release.files_version else None,
        files_dev=str(release.files_dev) if release.files_dev else None,
        in_sync=(
            snap.remote_reachable and branch_sync in ("in sync", None) and not release.unsynced_tags
        ),
        branch_sync=branch_sync,
        remote=snap.remote,
        remote_reachable=snap.remote_reachable,
        problems=tuple(release.problems),
        candidates=tuple(
            {
                "tag": c.tag,
                "sha": c.sha,
                "local": c.local,
                "remote": c.remote,
                # passed every required validation, not merely "a validate run finished"
                "validated": candidate_state(c, config) is State.VALIDATED,
                "completed": c.completed,
                # whose [[validate]] judge it: the RC commit's committed configuration
                "validations_from": c.config_source,
                "release": _release_view(snap, c.tag),
                # Dispatched workflow runs with no result yet: `validate` re-attaches to them.
                "running": [
                    {
                        "name": name,
                        "since": e.time,
                        "url": e.data.get("url"),
                        "run_id": e.data.get("run_id"),
                    }
                    for name, e in sorted(pending_dispatches(snap.ledger, c.tag, c.sha).items())
                ],
                "validations": [
                    {
                        "name": r.name,
                        "passed": r.passed,
                        "required": r.required,
                        "time": r.time,
                        "duration": r.duration,
                        "detail": r.detail,
                        "kind": r.kind,
                        "url": r.url,
                        "conclusion": r.conclusion,
                        "expired": r.expired,
                        "ran": r.ran,
                    }
                    for r in c.results
                ],
            }
            for c in release.candidates
        ),
        withdrawn=tuple(sorted(release.withdrawn_tags)),
        retracted=tuple(sorted(release.retracted)),
        forge={
            "name": snap.forge,
            "error": snap.forge_error,
            "release": _release_view(snap, tag) if tag else None,
            "drift": list(forge_drift(snap, release, config)),
        },
        lease=None
        if lease is None or lease.expires < snap.now
        else {"holder": lease.describe(), "expires": lease.expires},
        artifacts=tuple(_artifacts_view(snap, tag)) if tag else (),
        stage=release.stage,
        stages=tuple(ladder_view(snap, config, release)),
        moves=tuple(ladder_moves(config, release)),
    )


# The ledger events of images and packages (engine.registries names them; not imported here, so
# `status` does not load the artifact code).
_ARTIFACT_EVENTS = ("image_resolved", "image_promoted", "image_tag_moved", "package_published")


def _artifacts_view(snap: Snapshot, tag: str) -> list[dict[str, Any]]:
    """What shipped where for tag: each image digest and package file the ledger recorded."""
    newest: dict[tuple[str, str], Event] = {}
    for e in unstubbed(snap.ledger):
        if e.kind in _ARTIFACT_EVENTS and (e.key == tag or e.key.startswith(tag + "/")):
            newest[(e.kind, e.key)] = e
    rows = []
    for e in newest.values():
        d = e.data
        row: dict[str, Any] = {"event": e.kind, "time": e.time}
        if e.kind == "package_published":
            row.update(index=d.get("index"), rc=d.get("rc"), files=dict(d.get("files") or {}))
        else:
            tags = d.get("tags") or [d.get("tag")]
            row.update(image=d.get("image"), tags=list(tags), digest=d.get("digest"))
            if e.kind == "image_promoted":
                row["rc"] = d.get("rc")
            elif e.kind == "image_tag_moved":
                row["to"] = d.get("to")
        rows.append(row)
    return rows


def _release_view(snap: Snapshot, tag: str) -> dict[str, Any] | None:
    rel = snap.releases.get(tag)
    if rel is None:
        return None
    return {
        "draft": rel.draft,
        "prerelease": rel.prerelease,
        "latest": rel.latest,
        "retracted": rel.retracted,
        "assets": sorted(a.name for a in rel.assets),
        "url": rel.url or None,
    }


def _branch_sync(snap: Snapshot) -> str | None:
    """HEAD against the remote release branch: in sync, ahead, behind, diverged or missing.

    None when it cannot be told (the remote is unreachable, or no commit is checked out).
    """
    if not snap.remote_reachable or snap.head is None:
        return None
    if snap.remote_branch is None:
        return "missing"
    if snap.remote_branch == snap.head:
        return "in sync"
    if snap.head_on_remote:
        return "behind"
    return "diverged" if snap.remote_ahead else "ahead"


def _ladder_next(release: Release, config: Config) -> tuple[str, ...]:
    """`next`, with `promote` spelled as the ladder allows it (`promote --to rc` from beta)."""
    from rcflow.model.states import ladder_moves

    if not config.stages or release.latest is None:
        return tuple(release.next)
    promotes = [m for m in ladder_moves(config, release) if m.startswith("promote")]
    found: list[str] = []
    for n in release.next:
        found.extend(promotes if n == "promote" and promotes else [n])
    return tuple(found)
