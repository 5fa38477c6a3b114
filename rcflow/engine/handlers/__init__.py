"""The effect handlers, one per effect type, grouped by what they act on.

Importing this package registers them all in `base.HANDLERS` (see `base.handles`).
"""

from rcflow.engine.handlers import alerts, forge, git, hooks, registries, validations
from rcflow.engine.handlers.base import HANDLERS, Handler, Outcome, Record, Scope

__all__ = [
    "HANDLERS",
    "Handler",
    "Outcome",
    "Record",
    "Scope",
    "alerts",
    "forge",
    "git",
    "hooks",
    "registries",
    "validations",
]
