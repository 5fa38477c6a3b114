"""Preflight checks: each module inspects one class of facts and returns findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Finding:
    id: str  # stable, e.g. "git.dirty"; what `--skip-check` will name
    severity: Literal["error", "warning"]
    message: str
    fix: str
    where: str | None = None  # file:line when there is one

    def line(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{where}{self.message} ({self.fix})"
