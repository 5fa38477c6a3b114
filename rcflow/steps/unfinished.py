"""Rollbacks the ledger decided that git or the forge do not show yet: what finishes them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rcflow.model.config import Config
from rcflow.model.events import EventKind
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release, unpushed_promotions
from rcflow.model.version import tag_name
from rcflow.steps.history import decision, retraction_note
from rcflow.steps.hooks import pending_hooks
from rcflow.steps.registries import move_latest

if TYPE_CHECKING:
    from rcflow.model.effects import Effect


def unfinished_rollback(s: Snapshot, config: Config, release: Release) -> list[Effect]:
    """Effects that finish rollbacks the ledger decided but git or the forge do not show yet.

    Rollbacks record their decision first, so a crash leaves a decision to complete rather than
    a half-undone state that another command could mistake for something to push again.
    """
    from rcflow.model.effects import DeleteRelease, DeleteTag, MarkLatest, RetractRelease

    effects: list[Effect] = []
    for tag in sorted(release.withdrawn_tags):
        if tag in s.releases:
            effects.append(DeleteRelease(tag))
        if tag in s.remote_tags:
            effects.append(DeleteTag(tag, s.remote))
        if tag in s.local_tags:
            effects.append(DeleteTag(tag, None))
        effects += abandoned_finals(s, tag)
        effects += pending_hooks(s, config, decision(s, EventKind.RC_WITHDRAWN, tag), tag)
    for tag in sorted(release.retracted):
        event = decision(s, EventKind.RETRACTED, tag)
        rel = s.releases.get(tag)
        if rel is not None and not rel.retracted:
            effects.append(RetractRelease(tag, retraction_note(s, tag)))
        previous = str(event.data.get("previous_tag") or "") if event else ""
        current = (
            tag_name(release.last_final, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
            if release.last_final
            else None
        )
        prev_rel = s.releases.get(previous)
        # Only while that previous final is still the current release: a newer one since then
        # is latest by its own right.
        if previous and previous == current and prev_rel is not None and not prev_rel.latest:
            effects.append(MarkLatest(previous))
        if previous and previous == current and event is not None:
            effects += move_latest(s, config, event.data, tag)
        if event is not None and event.data.get("delete_tag"):
            if tag in s.remote_tags:
                effects.append(DeleteTag(tag, s.remote))
            if tag in s.local_tags:
                effects.append(DeleteTag(tag, None))
        effects += pending_hooks(s, config, event, tag)
    return effects


def abandoned_finals(s: Snapshot, rc_tag: str) -> list[Effect]:
    """Withdrawing an RC abandons a promotion of it whose final tag never reached the remote:
    the tag this clone made for it goes too (nobody else ever saw it)."""
    from rcflow.model.effects import DeleteTag

    return [
        DeleteTag(final, None)
        for final, rc in sorted(unpushed_promotions(s).items())
        if rc == rc_tag and final in s.local_tags
    ]
