"""Findings: what a preflight check or doctor reports, and which steps each can break."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from rcflow.record import dataclass

# Every step the preflight can refuse; a finding's `steps` names a subset of these.
STEPS = frozenset({"bump", "rc", "validate", "promote", "rollback"})


@dataclass(frozen=True)
class Finding:
    id: str  # stable, e.g. "git.dirty"; what `--skip-check` and `[preflight] waive` name
    severity: Literal["error", "warning"]
    message: str
    fix: str
    where: str | None = None  # file:line when there is one
    # The steps this finding can break; None: every step. An error that cannot break the step
    # being run is only a warning for it (an artifact race in a fuzz workflow does not break bump).
    steps: frozenset[str] | None = None

    def line(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{where}{self.message} ({self.fix})"

    @property
    def file(self) -> str | None:
        """The file of `where`, without its line."""
        if not self.where:
            return None
        head, sep, tail = self.where.rpartition(":")
        return head if sep and tail.isdigit() else self.where

    def breaks(self, step: str) -> bool:
        return self.steps is None or step in self.steps

    def waived_by(self, waivers: Iterable[str]) -> str | None:
        """The waiver (``id`` or ``id@file``) that covers this finding, or None."""
        for waiver in waivers:
            wid, sep, path = waiver.partition("@")
            if wid != self.id:
                continue
            if not sep or path in (self.file, self.where):
                return waiver
        return None
