"""What every effect handler is given and returns, and the registry that maps effect types to them.

A handler re-checks its effect against the world ("skipped: already …"), performs it when it does
not hold, and returns an `Outcome`: what happened, and the ledger events the loop appends for it.
A handler never writes the ledger itself; the executor's loop does, and only events of a kind the
effect declares in `Effect.writes()`, so a plan shows every ledger write an apply can make.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from rcflow.errors import EffectError
from rcflow.model.effects import Effect
from rcflow.model.ledger import Event
from rcflow.record import dataclass, field

if TYPE_CHECKING:
    from rcflow.engine.executor import Ports
    from rcflow.engine.validations.command import Outcome as ValidationOutcome
    from rcflow.ports.forge import Forge
    from rcflow.ports.git import Repository
    from rcflow.ports.registry import Registry


@dataclass(frozen=True)
class Record:
    """A ledger event to append: its kind (an `EventKind`), what it is about, and its data."""

    kind: str
    key: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What applying one effect did, and the ledger events the loop appends for it.

    `error`: the effect failed, but the failure is itself recorded (a hook's `hook_failed`):
    the loop appends `events` first, then raises it.
    """

    status: Literal["done", "skipped", "failed"]
    detail: str = ""
    events: tuple[Record, ...] = ()
    error: EffectError | None = None

    @property
    def text(self) -> str:
        """The report line's outcome: "done", "done: …", "skipped: …", "failed: …"."""
        return f"{self.status}: {self.detail}" if self.detail else self.status

    def noting(self, extra: str) -> Outcome:
        return Outcome(self.status, self.detail + extra, self.events, self.error)


def done(detail: str = "", *events: Record) -> Outcome:
    return Outcome("done", detail, events)


def skipped(why: str, *events: Record) -> Outcome:
    return Outcome("skipped", why, events)


class Scope:
    """What a handler may use: the ports, the ledger as read so far, and a checked recorder.

    `record` appends at once, through the loop's checked path: only for what must be in the
    ledger before the handler goes on (a dispatched workflow run). `record_later` appends one
    that rides with the next push, and `flush` makes that push now (a validation result while
    others still run; the last one waits for the lease's release). Everything else is returned
    in the `Outcome`.
    """

    def __init__(
        self,
        *,
        git: Repository,
        forge: Forge,
        ports: Ports,
        events: Callable[[], tuple[Event, ...]],
        remote: Callable[[], str],
        record: Callable[[Record], None],
        record_later: Callable[[Record], None],
        flush: Callable[[], None],
        push: Callable[[str, Sequence[str]], None],
        registry: Callable[[str, bool], tuple[Registry, str]],
        results: list[ValidationOutcome],
    ) -> None:
        self.git = git
        self.forge = forge
        self.ports = ports
        self._events = events
        self._remote = remote
        self.record = record
        self.record_later = record_later
        self.flush = flush
        # Pushes refs to a remote; to the ledger's, the events recorded so far ride along.
        self.push = push
        self.registry = registry
        self.results = results

    @property
    def events(self) -> tuple[Event, ...]:
        """The ledger as this run knows it, with every event appended so far."""
        return self._events()

    @property
    def remote(self) -> str:
        return self._remote()

    def read(self, path: str) -> str | None:
        return read_text(self.git.root / path)


def read_text(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


E = TypeVar("E", bound=Effect)
Handler = Callable[[Scope, Any], Outcome]

# Filled by the handler modules as they are imported (`rcflow.engine.handlers` imports them all).
HANDLERS: dict[type[Effect], Handler] = {}


def handles(
    kind: type[E],
) -> Callable[[Callable[[Scope, E], Outcome]], Callable[[Scope, E], Outcome]]:
    """Register the decorated function as the one handler of effects of type `kind`."""

    def register(fn: Callable[[Scope, E], Outcome]) -> Callable[[Scope, E], Outcome]:
        if kind in HANDLERS:
            raise TypeError(
                f"{kind.__name__} has two handlers: {HANDLERS[kind].__name__}, {fn.__name__}"
            )
        HANDLERS[kind] = fn
        return fn

    return register
