"""Version consistency: every configured version reference reads the release version in its own
spelling — the classic "manifests still pin the previous RC" bug, caught with file:line."""

from __future__ import annotations

from rcflow.checks import Finding
from rcflow.config import Config
from rcflow.states import Release


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
    if expected is None:
        first = found[0]
        return [
            Finding(
                "version.unreadable",
                "error",
                f"{first.ref.key} is {first.ref.value!r}, not a version rcflow can write back",
                "use X.Y.Z, X.Y.Z-rc.N or the PEP 440 form X.Y.ZrcN",
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
