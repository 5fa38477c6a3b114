"""Apply: the executor. The only code path that changes anything.

The loop hands each effect to the one handler registered for its type (`rcflow.engine.handlers`).
The handler checks whether the effect already holds (skip), or whether the world contradicts it
(conflict: stop, change nothing more), performs it, and returns an `Outcome` with the ledger events
to record; the loop appends them, and only events of a kind the effect declares (`Effect.writes`),
so a plan shows every ledger write. A mutating run holds the lease for its whole apply
(`rcflow.engine.lease`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rcflow.engine.handlers import HANDLERS, Outcome, Record, Scope
from rcflow.engine.handlers.base import Handler
from rcflow.engine.handlers.forge import FORGE_WRITES
from rcflow.engine.validations import command as command_validators
from rcflow.errors import EffectError
from rcflow.model import ledger
from rcflow.model.effects import Effect
from rcflow.model.ledger import LEDGER_REF, Event, RunIdentity
from rcflow.model.registries import IndexFactory, RegistryFactory, split_image
from rcflow.ports import proc
from rcflow.ports.ci import CI
from rcflow.ports.forge import Forge, HeldWrites
from rcflow.ports.git import Repository
from rcflow.ports.registry import Registry
from rcflow.record import dataclass, field


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
        head: str | None = None,
    ):
        self.git = git
        self.remote = remote
        self.tip = tip
        self.events = list(events)
        self._read = events  # as read: `ledger.compact` knows a checkpoint read plus its tail
        self.me = me
        # (tag_prefix, rc_token) the checkpoint is compacted by; None: events only, as before.
        self.spelling = spelling
        self._checkpoint: tuple[Event, ...] | None = None
        # Appended here, not yet on the remote: they ride with the next push.
        self.pending: list[Event] = []
        # Safe to share between threads: `_state` guards the chain of event commits (each
        # builds on the newest), `_pushing` lets one push run at a time, and a push carries
        # what was pending when it started. Validation results do not rely on batching: their
        # handler appends and pushes one at a time, so a step's writes are one fixed sequence
        # (the crash tests fail each write in turn).
        self._state = threading.RLock()
        self._pushing = threading.Lock()
        # HEAD's commit as an event records it, while no effect on the clone ran since it was
        # read (`moved`): one git process per effect that may move it, not one per event.
        self._at: tuple[str | None] | None = (head,) if head else None

    def moved(self) -> None:
        """HEAD may have moved (an effect acted on the clone): the next event reads it again."""
        self._at = None

    def latest_kind(self, key: str) -> str | None:
        """The kind of the newest event about key: what was last decided or done about it."""
        for event in reversed(self.events):
            if event.key == key:
                return event.kind
        return None

    def append(self, kind: str, key: str, data: Mapping[str, Any], *, defer: bool = False) -> Event:
        """Append one event; only the executor's loop and the lease call this.

        `defer`: build the event's commit now and push it with the next push (an effect's own, in
        one atomic push, or `flush`); the executor flushes before any effect that cannot carry it.
        """
        stamped = dict(data)
        at = self._at
        if at is None:
            head = self.git.head()
            at = self._at = (head[0] if head else None,)
        stamped.setdefault("head", at[0])
        if self.me.url:
            stamped.setdefault("run_url", self.me.url)
        event = Event(kind, key, ledger.now_iso(time.time()), self.me.actor, self.me.run, stamped)
        with self._state:
            sha = self._commit(event, self._head())
            stored = Event(
                event.kind, event.key, event.time, event.actor, event.run, event.data, sha
            )
            before = self._checkpoint
            self.pending.append(stored)
            self.events.append(stored)
            if self._checkpoint is not None and self.spelling is not None:
                prefix, token = self.spelling
                self._checkpoint = ledger.fold(
                    self._checkpoint, stored, tag_prefix=prefix, rc_token=token
                )
        if not defer:
            try:
                self.flush()
            except BaseException:
                # It had to be on the remote now and is not: forget it (the caller stops), so
                # no later push records what never happened; earlier deferred events stay. One
                # another thread appended since builds on it: it stays, and rides with that.
                with self._state:
                    if self.pending and self.pending[-1] is stored:
                        self.pending.pop()
                        self.events.pop()
                        self._checkpoint = before
                raise
        return stored

    def mark(self) -> tuple[int, int, tuple[Event, ...] | None]:
        """Where the ledger stands now, for `undo`: events appended after it can be taken back."""
        with self._state:
            return len(self.pending), len(self.events), self._checkpoint

    def undo(self, mark: tuple[int, int, tuple[Event, ...] | None]) -> None:
        """Forget the events appended since `mark` that are still pending (never pushed): a push
        that was to carry them failed, and what they record did not happen."""
        pending, events, checkpoint = mark
        with self._state:
            if len(self.pending) <= pending:
                return  # pushed after all (or nothing was appended): they stay
            del self.pending[pending:]
            del self.events[events:]
            self._checkpoint = checkpoint

    def _head(self) -> str | None:
        """The newest event's commit, pushed or not: the next one builds on it."""
        return self.pending[-1].id if self.pending else self.tip

    def flush(self, refspecs: Sequence[str] = ()) -> None:
        """Push the pending events, and with them an effect's refspecs, in one atomic push.

        The ledger ref moves by fast-forward from the tip this run last pushed or saw, so a
        rejection means someone appended since we looked: the compare-and-swap. Atomic, the
        effect's refs move only if the events land too (no tag without its event), and a
        refused effect leaves its events pending for the next push (the failure's record).
        """
        with self._pushing:
            with self._state:
                carried = len(self.pending)
                head = self._head()
            if not carried and not refspecs:
                return
            ledger_spec = [f"{head}:{LEDGER_REF}"] if carried and head else []
            # A signal waits for the push and the tip to agree: else the lease release that
            # follows an interrupt builds on a stale tip and is rejected, leaving the lease held.
            with proc.deferred():
                self.git.push(self.remote, [*refspecs, *ledger_spec])
                if not carried or head is None:
                    return
                # Pushed, the events are on the ledger: the next append builds on them even if
                # updating the local copy of the ref fails (else releasing the lease is
                # rejected). Events appended during the push are still pending, on top of them.
                with self._state:
                    self.tip = head
                    del self.pending[:carried]
                self.git.update_ref(LEDGER_REF, head)

    def _commit(self, event: Event, parent: str | None) -> str:
        """The event's commit on `parent`; its tree holds the checkpoint of the ledger before it
        (`model.ledger.compact`), so it is written under the append's own compare-and-swap."""
        if self.spelling is None:
            return self.git.commit_tree(event.message(), parent)
        prefix, token = self.spelling
        if self._checkpoint is None:
            before = self._read if parent and len(self.events) == len(self._read) else self.events
            before = before if parent else []
            self._checkpoint = ledger.compact(before, tag_prefix=prefix, rc_token=token)
        blob = ledger.checkpoint_json(self._checkpoint, tag_prefix=prefix, rc_token=token)
        return self.git.commit_tree_files(event.message(), parent, {ledger.CHECKPOINT_FILE: blob})


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
        # While `apply` runs: the plan, where it is, how it closes, and what was applied ahead.
        self._plan: tuple[Effect, ...] = ()
        self._at = 0
        self._close: Callable[[], None] | None = None
        self._ahead: dict[int, str] = {}

    @property
    def writer(self) -> LedgerWriter:
        """The ledger; plans without release effects (`rcflow init`) run without one."""
        if self._writer is None:
            raise EffectError("this plan has no ledger to record events in")
        return self._writer

    def apply(
        self, effects: tuple[Effect, ...], *, close: Callable[[], None] | None = None
    ) -> list[Applied]:
        """Apply effects in order. `close` appends the run's last event (the lease's release,
        deferred): given, the push of the last effect that reaches beyond the ledger carries
        the events of the ledger-only effects after it (and the held forge writes) and that
        last event too, in one atomic push, instead of a push of their own after it (`_ride`)."""
        applied = []
        self._plan, self._close, self._ahead = effects, close, {}
        try:
            for at, effect in enumerate(effects):
                self._at = at
                outcome = self._ahead.pop(at, None)
                if outcome is None:
                    outcome = self.perform(effect)
                self.report(effect, outcome)
                applied.append(Applied(effect, outcome))
        finally:
            self._plan, self._close, self._ahead = (), None, {}
        return applied

    def perform(self, effect: Effect) -> str:
        """Apply one effect and record what its handler returns; the outcome's text."""
        handler = HANDLERS.get(type(effect))
        if handler is None:
            raise EffectError(f"no handler applies {type(effect).__name__}")
        held = self._holds(effect)
        if self._writer is not None and effect.reach() == "world" and not held:
            # What earlier effects recorded is on the remote before this one acts outside the
            # clone, as if each event had been pushed alone; a push carries them in its own.
            # The run's lease is among them until its first push (`rcflow.engine.lease`).
            self._writer.flush()
        if held:
            return self._held_write(effect, handler)
        try:
            outcome: Outcome = handler(self._scope(effect), effect)
        finally:
            if self._writer is not None and effect.reach() == "world":
                self._writer.moved()
        for event in outcome.events:
            self._append(effect, event, defer=True)
        if outcome.error is not None:
            raise outcome.error
        return outcome.text

    def _append(self, effect: Effect, event: Record, *, defer: bool = False) -> None:
        """The one place effects reach the ledger: only the kinds the effect declares.

        A handler's `record` pushes at once (it must be on the remote before the handler goes
        on); `record_later` and what an effect returns are pushed with the next push: the next
        effect's own, a handler's `flush`, or the lease's release after the last.
        """
        if event.kind not in effect.writes():
            raise EffectError(
                f"{type(effect).__name__} recorded {event.kind}, which its plan does not show"
            )
        # The writer is safe to share: validations record from several threads.
        self.writer.append(event.kind, event.key, event.data, defer=defer)

    def _push(self, remote: str, refspecs: Sequence[str]) -> None:
        """An effect's push; to the ledger's remote it carries the pending events atomically."""
        if self._writer is None:
            self.git.push(remote, refspecs)
        elif remote != self._writer.remote:
            # Another remote is outside the clone: the lease and the decisions go first.
            self._writer.flush()
            self.git.push(remote, refspecs)
        else:
            self._ride(refspecs, self._writer.mark())

    # -- what rides in an effect's push ---------------------------------------------------------

    def _forge_holds(self) -> HeldWrites | None:
        """The forge, when its writes can travel in this run's pushes: commits on a ref of the
        ledger's own remote (the local forge)."""
        forge = self.forge
        if (
            self._writer is not None
            and isinstance(forge, HeldWrites)
            and forge.remote == self._writer.remote
        ):
            return forge
        return None

    def _holds(self, effect: Effect) -> bool:
        """effect writes only the forge, and the forge's writes wait for this run's next push."""
        return type(effect) in FORGE_WRITES and self._forge_holds() is not None

    def _rides(self, effect: Effect) -> bool:
        """effect's writes can wait for the push of an effect before it (applied ahead of it)."""
        return effect.reach() == "ledger" or self._holds(effect)

    def _held_write(self, effect: Effect, handler: Handler) -> str:
        """A forge write that heads a push: its commit, the pending events and what rides after
        it, in one atomic push (`_ride`); reported after it landed."""
        writer = self.writer
        mark = writer.mark()
        forge = self._forge_holds()
        assert forge is not None  # noqa: S101 - _holds checked it
        forge.hold()
        try:
            outcome: Outcome = handler(self._scope(effect), effect)
            for event in outcome.events:
                self._append(effect, event, defer=True)
            if outcome.error is not None:
                raise outcome.error
        except BaseException:
            writer.undo(mark)
            forge.drop()
            raise
        self._ride((), mark)
        return outcome.text

    def _ride(
        self, refspecs: Sequence[str], mark: tuple[int, int, tuple[Event, ...] | None]
    ) -> None:
        """The push of the effect applying now (its refspecs: a tag, a branch; none for a held
        forge write), and with it, in one atomic push: the pending events; the effects after it
        that only record an event or write the held forge, applied now and reported after the
        push as the loop reaches them; the forge's commit of every held write; and when those
        effects end the plan, the run's last event (the lease's release, `apply`'s `close`).

        Atomic, the refs, the forge and every event land or none does: when the push fails, the
        events appended since `mark` are taken back (`LedgerWriter.undo`) and the forge's writes
        dropped: what they record did not happen, the lease is as it was (the failure path
        records the failure and releases it, as after any failed effect), and a resume makes
        them again, here or from a fresh clone (nothing of them is on the remote).
        """
        writer = self.writer
        forge = self._forge_holds()
        tail: list[int] = []
        for i in range(self._at + 1, len(self._plan)):
            if not self._rides(self._plan[i]):
                break
            tail.append(i)
        closes = self._close is not None and (tail[-1] if tail else self._at) == len(self._plan) - 1
        outcomes: dict[int, str] = {}
        held = None
        try:
            if forge is not None:
                forge.hold()
            for i in tail:
                later = self._plan[i]
                handler = HANDLERS[type(later)]
                outcome: Outcome = handler(self._scope(later), later)
                for event in outcome.events:
                    self._append(later, event, defer=True)
                if outcome.error is not None:
                    raise outcome.error
                outcomes[i] = outcome.text
            if closes:
                assert self._close is not None  # noqa: S101 - checked above
                self._close()
            held = forge.held() if forge is not None else None
            writer.flush([*refspecs, *([f"{held[1]}:{held[0]}"] if held else [])])
        except BaseException:
            writer.undo(mark)
            if forge is not None:
                forge.drop()
            raise
        if forge is not None:
            forge.landed()
        if held is not None:
            # Pushed: the local copy of the forge's ref is only a cache (offline status).
            with contextlib.suppress(EffectError):
                self.git.update_ref(*held)
        if closes:
            self._close = None  # the run's last event is appended once
        self._ahead.update(outcomes)

    def _scope(self, effect: Effect) -> Scope:
        return Scope(
            git=self.git,
            forge=self.forge,
            ports=self.ports,
            events=lambda: tuple(self.writer.events),
            remote=lambda: self.writer.remote,
            record=lambda event: self._append(effect, event),
            record_later=lambda event: self._append(effect, event, defer=True),
            flush=lambda: self.writer.flush(),
            push=self._push,
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
