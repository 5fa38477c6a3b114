"""The hooks a decision promised (`after_promote`, `after_rollback`), and their environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rcflow.model import ledger
from rcflow.model.config import Config
from rcflow.model.events import EventKind
from rcflow.model.ledger import Event
from rcflow.model.snapshot import Snapshot
from rcflow.model.version import Spelling, Version
from rcflow.steps.history import tag_version

if TYPE_CHECKING:
    from rcflow.model.effects import Effect, RecordEvent


def hook_env(
    config: Config, version: Version, tag: str, **extra: str
) -> tuple[tuple[str, str], ...]:
    pep440 = version.render(Spelling.PEP440, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    env = {"RCFLOW_TAG": tag, "RCFLOW_VERSION": str(version), "RCFLOW_PEP440": pep440, **extra}
    return tuple(sorted(env.items()))


def pending_hooks(
    s: Snapshot, config: Config, decided: Event | RecordEvent | None, tag: str
) -> list[Effect]:
    """The hooks a decision promised (its "hooks" list) that have not succeeded yet.

    `decided` is the decision's ledger event, or the RecordEvent a plan is about to append: a
    fresh run and a resumed one build the same hook with the same environment from it. The list
    is fixed when the step is decided, so adding a hook to the config later never runs it for
    releases that were finished before.
    """
    from rcflow.model.effects import RecordEvent, RunHook

    if decided is None:
        return []
    kind = decided.event if isinstance(decided, RecordEvent) else decided.kind
    data = decided.data
    effects: list[Effect] = []
    version = tag_version(tag, config)
    for hook in data.get("hooks") or []:
        command = config.hooks.command(str(hook))
        if command is None or version is None:
            continue
        if ledger.has(s.ledger, EventKind.HOOK_SUCCEEDED, f"{tag}/{hook}"):
            continue
        extra = {}
        if data.get("previous_tag"):
            extra["RCFLOW_PREVIOUS_TAG"] = str(data["previous_tag"])
        if kind == EventKind.PROMOTING and data.get("rc"):
            extra["RCFLOW_RC_TAG"] = str(data["rc"])
        env = hook_env(config, version, tag, **extra)
        effects.append(RunHook(str(hook), tag, command, env, config.hooks.timeout))
    return effects
