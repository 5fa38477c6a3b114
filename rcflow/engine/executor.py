"""Apply: the executor. The only code path that changes anything.

The loop hands each effect to the one handler registered for its type (`rcflow.engine.handlers`).
The handler checks whether the effect already holds (skip), or whether the world contradicts it
(conflict: stop, change nothing more), performs it, and returns an `Outcome` with the ledger events
to record; the loop appends them, and only events of a kind the effect declares (`Effect.writes`),
so a plan shows every ledger write. A mutating run holds the lease for its whole apply
(`rcflow.engine.lease`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rcflow.engine.handlers import HANDLERS, Outcome, Record, Scope
from rcflow.engine.validations import command as command_validators
from rcflow.errors import EffectError
from rcflow.model import ledger
from rcflow.model.effects import Effect
from rcflow.model.ledger import LEDGER_REF, Event, RunIdentity
from rcflow.model.registries import IndexFactory, RegistryFactory, split_image
from rcflow.ports import proc
from rcflow.ports.ci import CI
from rcflow.ports.forge import Forge
from rcflow.ports.git import Repository
from rcflow.ports.registry import Registry


class LedgerWriter:
    """Appends events with compare-and-swap on the remote ledger ref."""

    def __init__(
        self,
        git: Repository,
        remote: str,
        tip: str | None,
        events: tuple[Event, ...],
        me: RunIdentity,
        *,
        spelling: tuple[str, str] | None = None,
    ):
        self.git = git
        self.remote = remote
        self.tip = tip
        self.events = list(events)
        self.me = me
        # (tag_prefix, rc_token) the checkpoint is compacted by; None: events only, as before.
        self.spelling = spelling
        self._checkpoint: tuple[Event, ...] | None = None

    def latest_kind(self, key: str) -> str | None:
        """The kind of the newest event about key: what was last decided or done about it."""
        for event in reversed(self.events):
            if event.key == key:
                return event.kind
        return None

    def append(self, kind: str, key: str, data: Mapping[str, Any]) -> Event:
        """Append one event; only the executor's loop and the lease call this."""
        stamped = dict(data)
        head = self.git.head()
        stamped.setdefault("head", head[0] if head else None)
        if self.me.url:
            stamped.setdefault("run_url", self.me.url)
        event = Event(kind, key, ledger.now_iso(time.time()), self.me.actor, self.me.run, stamped)
        # A signal waits for the push and the tip to agree: else the lease release that follows
        # an interrupt builds on a stale tip and is rejected, leaving the lease held.
        with proc.deferred():
            sha = self._commit(event)
            # A non-fast-forward rejection means someone appended since we looked: the CAS.
            self.git.push(self.remote, [f"{sha}:{LEDGER_REF}"])
            # Pushed, the event is on the ledger: the next append builds on it even if updating
            # the local copy of the ref fails (else releasing the lease after that is rejected).
            self.tip = sha
            stored = Event(
                event.kind, event.key, event.time, event.actor, event.run, event.data, sha
            )
            self.events.append(stored)
            if self._checkpoint is not None and self.spelling is not None:
                prefix, token = self.spelling
                self._checkpoint = ledger.fold(
                    self._checkpoint, stored, tag_prefix=prefix, rc_token=token
                )
            self.git.update_ref(LEDGER_REF, sha)
        return stored

    def _commit(self, event: Event) -> str:
        """The event's commit on the tip; its tree holds the checkpoint of the ledger before it
        (`model.ledger.compact`), so it is written under the append's own compare-and-swap."""
        if self.spelling is None:
            return self.git.commit_tree(event.message(), self.tip)
        prefix, token = self.spelling
        if self._checkpoint is None:
            before = self.events if self.tip else []
            self._checkpoint = ledger.compact(before, tag_prefix=prefix, rc_token=token)
        blob = ledger.checkpoint_json(self._checkpoint, tag_prefix=prefix, rc_token=token)
        return self.git.commit_tree_files(event.message(), self.tip, {ledger.CHECKPOINT_FILE: blob})


Report = Callable[[Effect, str], None]  # (effect, "done" | "skipped: why")


@dataclass
class Ports:
    """What the executor works through; `rcflow.commands.context` builds the real ones."""

    git: Repository
    forge: Forge
    validation_progress: command_validators.Progress = field(default=lambda n, w, d: None)
    # Registries and package indexes (None: this plan has no images or packages, `rcflow init`).
    registry: RegistryFactory | None = None
    index: IndexFactory | None = None
    # Where workflow and checks validations run: GitHub. None: the forge, when it is one.
    ci: CI | None = None
    # The alert webhook `[notify] webhook_env` names (None: not set); engine.alerts posts to it.
    webhook: Callable[[Mapping[str, Any]], None] | None = None


@dataclass
class Applied:
    effect: Effect
    outcome: str  # "done", "done: …", "skipped: <why>", "failed: …"
    results: list[command_validators.Outcome] = field(default_factory=list)


class Executor:
    def __init__(self, ports: Ports, writer: LedgerWriter | None, report: Report) -> None:
        self.git = ports.git
        self.forge = ports.forge
        self.ports = ports
        self._writer = writer
        self.report = report
        self.results: list[command_validators.Outcome] = []
        self._registries: dict[tuple[str, bool], Registry] = {}
        self._appending = threading.Lock()

    @property
    def writer(self) -> LedgerWriter:
        """The ledger; plans without release effects (`rcflow init`) run without one."""
        if self._writer is None:
            raise EffectError("this plan has no ledger to record events in")
        return self._writer

    def apply(self, effects: tuple[Effect, ...]) -> list[Applied]:
        applied = []
        for effect in effects:
            outcome = self.perform(effect)
            self.report(effect, outcome)
            applied.append(Applied(effect, outcome))
        return applied

    def perform(self, effect: Effect) -> str:
        """Apply one effect and record what its handler returns; the outcome's text."""
        handler = HANDLERS.get(type(effect))
        if handler is None:
            raise EffectError(f"no handler applies {type(effect).__name__}")
        outcome: Outcome = handler(self._scope(effect), effect)
        for event in outcome.events:
            self._append(effect, event)
        if outcome.error is not None:
            raise outcome.error
        return outcome.text

    def _append(self, effect: Effect, event: Record) -> None:
        """The one place effects reach the ledger: only the kinds the effect declares."""
        if event.kind not in effect.writes():
            raise EffectError(
                f"{type(effect).__name__} recorded {event.kind}, which its plan does not show"
            )
        with self._appending:  # validations record from several threads
            self.writer.append(event.kind, event.key, event.data)

    def _scope(self, effect: Effect) -> Scope:
        return Scope(
            git=self.git,
            forge=self.forge,
            ports=self.ports,
            events=lambda: tuple(self.writer.events),
            remote=lambda: self.writer.remote,
            record=lambda event: self._append(effect, event),
            registry=self._registry,
            results=self.results,
        )

    def _registry(self, image: str, insecure: bool) -> tuple[Registry, str]:
        """The client for an image's registry (one per host, so tokens are reused) and its repo."""
        host, repository = split_image(image)
        key = (host, insecure)
        if key not in self._registries:
            if self.ports.registry is None:
                raise EffectError(f"no registry client is configured for {host}")
            self._registries[key] = self.ports.registry(host, insecure)
        return self._registries[key], repository
