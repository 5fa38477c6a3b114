"""Steps: each module is one command of the release lifecycle, a `Step` (`rcflow.steps.base`).

A step plans only what is missing: every piece it would produce is checked against the facts
first, so running it again after a crash plans the rest, and after success plans nothing.
Planning is pure; `rcflow.commands.step` observes, runs the preflight and applies.
"""

from __future__ import annotations

from typing import Any

from rcflow.steps import bump, promote, rc, rollback, validate
from rcflow.steps.base import Facts, Param, Step

# In the lifecycle's order, which is also the order of the commands in `rcflow --help`.
STEPS: dict[str, Step[Any]] = {
    s.name: s for s in (bump.STEP, rc.STEP, validate.STEP, promote.STEP, rollback.STEP)
}

__all__ = ["STEPS", "Facts", "Param", "Step"]
