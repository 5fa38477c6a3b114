"""Version consistency: every configured version reference reads the release version in its own
spelling — the classic "manifests still pin the previous RC" bug, caught with file:line."""

from __future__ import annotations

from rcflow.model.config import Config
from rcflow.model.findings import Finding
from rcflow.model.states import Release
from rcflow.model.version_files import dev_mismatches


def findings(release: Release, config: Config) -> list[Finding]:
    found = list(release.found)
    if not found:
        return [
            Finding(
                "version.none",
                "error",
                "no version file holds a version rcflow can read",
                "add a [[version_file]] to rcflow.toml",
            )
        ]
    expected = release.files_version
    if expected is None and release.files_dev is not None:
        # Between releases: `bump` overwrites a development version, and mismatches are the
        # references that are neither on the way to that version nor the last release.
        dev = dev_mismatches(found, release.files_dev, release.last_final, config)
        return [Finding("version.mismatch", "error", line, "make them agree") for line in dev]
    if expected is None:
        first = found[0]
        return [
            Finding(
                "version.unreadable",
                "warning",
                f"{first.ref.key} is {first.ref.value!r}, not a version rcflow can read",
                "`rcflow bump X.Y.Z` writes the version you name into it",
                first.where,
            )
        ]
    out = []
    for f in found:
        want = expected.render(f.spelling, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        if f.ref.value != want:
            out.append(
                Finding(
                    "version.mismatch",
                    "error",
                    f"{f.ref.key} is {f.ref.value!r}, expected {want!r}",
                    f"set it to {want!r}",
                    f.where,
                )
            )
    return out
