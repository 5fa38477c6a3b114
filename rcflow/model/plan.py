"""Plan: the ordered effects a step would apply, the blockers that refuse it, and its rendering."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rcflow.record import dataclass, field

if TYPE_CHECKING:
    from rcflow.model.effects import Effect


@dataclass(frozen=True)
class Plan:
    step: str  # the command: bump, rc, validate, promote, rollback
    state: str  # the state it was planned from
    fingerprint: str  # of the snapshot it was planned from
    effects: tuple[Effect, ...] = ()
    blockers: tuple[str, ...] = ()  # every precondition that refuses the step, not only the first
    notes: tuple[str, ...] = ()  # facts worth saying (what is already done, what is skipped)
    done: str = ""  # what "already done" means for this step, said when there is nothing to do
    subject: dict[str, Any] = field(default_factory=dict)  # version, tag, rc, sha it is about

    @property
    def empty(self) -> bool:
        return not self.effects

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "state": self.state,
            "fingerprint": self.fingerprint,
            "effects": [e.to_json() for e in self.effects],
            "blockers": list(self.blockers),
            "notes": list(self.notes),
            "done": self.done,
            **self.subject,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)
