"""rcflow.toml and friends written by hand, and the one-line ConfigError they must give."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcflow.errors import ConfigError
from rcflow.model.config import load_config


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def config_error(root: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(root)
    assert "\n" not in err.value.message
    return err.value.message
