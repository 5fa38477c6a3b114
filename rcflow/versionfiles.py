"""Version files: find every version reference in a file's text and rewrite it. Pure text in, text out."""

from __future__ import annotations

from enum import StrEnum


class VersionFileKind(StrEnum):
    PYPROJECT = "pyproject"  # [project].version or [tool.poetry].version
    PACKAGE_JSON = "package.json"
    CARGO = "cargo"  # [package].version (or [workspace.package].version)
    PYTHON = "python"  # __version__ = "..."
    HELM_CHART = "helm"  # Chart.yaml version + appVersion
    PATTERN = "pattern"  # a regex with a named group `version`
