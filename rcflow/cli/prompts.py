"""Questions to the person at the terminal. Off a terminal (or in CI) nothing is asked."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from rcflow.model.plan import Plan


def interactive(env: Mapping[str, str]) -> bool:
    return sys.stdin.isatty() and env.get("CI") != "true"


def ask(console: Console, question: str, default: str) -> str:
    from rich.prompt import Prompt

    return Prompt.ask(question, console=console, default=default).strip()


def confirm(console: Console, plan: Plan) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(f"Apply these {len(plan.effects)} changes?", console=console, default=False)
