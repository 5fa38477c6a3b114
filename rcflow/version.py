"""Versions: parse, compare, bump and render the three spellings. Pure."""

from __future__ import annotations

from enum import StrEnum


class Spelling(StrEnum):
    SEMVER = "semver"  # 1.4.0-rc.1
    PEP440 = "pep440"  # 1.4.0rc1
    TAG = "tag"  # v1.4.0-rc.1 (the configured tag prefix)
