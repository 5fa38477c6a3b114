"""The configured version files, read and rewritten in each file's own spelling. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from rcflow.errors import VersionError, VersionFileError
from rcflow.model.config import Config, VersionFileConfig
from rcflow.model.version import Spelling, Version, parse, parse_dev, render_dev
from rcflow.model.version_text import VersionFileKind, VersionRef, read_refs, update
from rcflow.record import dataclass


@dataclass(frozen=True)
class FoundVersion:
    file: VersionFileConfig
    ref: VersionRef
    version: Version | None  # None: the text is not a version rcflow can render back
    spelling: Spelling
    # A development or pre-release version (1.5.0.dev0, 3.8.0-alpha.0): the final it leads to.
    dev: Version | None = None

    @property
    def where(self) -> str:
        return f"{self.file.path}:{self.ref.line}"


def _default_spelling(kind: VersionFileKind) -> Spelling:
    return (
        Spelling.PEP440
        if kind in (VersionFileKind.PYPROJECT, VersionFileKind.PYTHON)
        else (Spelling.SEMVER)
    )


def spelling_of(file: VersionFileConfig, ref: VersionRef, config: Config) -> Spelling:
    if file.spelling is not None:
        return file.spelling
    # An unconfigured reference keeps the spelling it already has (a chart's `appVersion: v1.3.0`).
    if ref.value.startswith(config.tag_prefix) and config.tag_prefix:
        try:
            parse(ref.value, Spelling.TAG, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        except VersionError:
            pass
        else:
            return Spelling.TAG
        if parse_dev(ref.value[len(config.tag_prefix) :], tag_prefix="") is not None:
            return Spelling.TAG  # v3.8.0-alpha.0: a development version with the tag prefix
    return _default_spelling(file.kind)


def read_versions(config: Config, texts: Mapping[str, str | None]) -> list[FoundVersion]:
    """Every version reference in the configured files; raises on a missing file or none found."""
    found: list[FoundVersion] = []
    for file in config.version_files:
        text = texts.get(file.path)
        if text is None:
            raise VersionFileError(f"{file.path}: file not found")
        for ref in read_refs(file.kind, file.path, text, file.pattern):
            spelling = spelling_of(file, ref, config)
            try:
                version: Version | None = parse(
                    ref.value, spelling, tag_prefix=config.tag_prefix, rc_token=config.rc_token
                )
            except VersionError:
                try:
                    version = parse(
                        ref.value, None, tag_prefix=config.tag_prefix, rc_token=config.rc_token
                    )
                except VersionError:
                    version = None
            dev = None
            if version is not None and version.rc is not None and not config.rc_in_files:
                # Without rc_in_files rcflow never writes an RC into the files: one written by
                # hand (1.4.0rc1) is on the way to 1.4.0, and `bump` overwrites it.
                dev, version = version.base, None
            elif version is None:
                dev = parse_dev(ref.value, tag_prefix=config.tag_prefix)
            found.append(FoundVersion(file, ref, version, spelling, dev))
    return found


def primary_version(found: list[FoundVersion]) -> Version | None:
    """The release version the files declare: the first configured reference."""
    return found[0].version if found else None


def primary_dev(found: list[FoundVersion]) -> Version | None:
    """The final the files are on the way to, when they hold a development version."""
    return found[0].dev if found and found[0].version is None else None


def mismatches(found: list[FoundVersion], expected: Version, config: Config) -> list[str]:
    """Each reference that does not read `expected` in its own spelling, as `path:line: ...`."""
    lines = []
    for f in found:
        want = expected.render(f.spelling, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        if f.ref.value != want:
            lines.append(f"{f.where}: {f.ref.key} is {f.ref.value!r}, expected {want!r}")
    return lines


def rewrite(config: Config, texts: Mapping[str, str | None], version: Version) -> dict[str, str]:
    """New contents for every configured file that needs a change (all of them or an error)."""
    found = read_versions(config, texts)
    by_path: dict[str, dict[str, str]] = {}
    for f in found:
        rendered = version.render(
            f.spelling, tag_prefix=config.tag_prefix, rc_token=config.rc_token
        )
        by_path.setdefault(f.file.path, {})[f.ref.key] = rendered
    out: dict[str, str] = {}
    for file in config.version_files:
        old = texts[file.path] or ""  # read_versions raised on a missing file
        new = update(file.kind, file.path, old, by_path.get(file.path, {}), file.pattern)
        if new != old:
            out[file.path] = new
    return out


def dev_mismatches(
    found: list[FoundVersion], dev: Version, last_final: Version | None, config: Config
) -> list[str]:
    """Between releases: each reference that is neither a development version of `dev` nor the
    last release in its own spelling (a file a project does not move between releases)."""
    lines = []
    for f in found:
        if f.dev == dev:
            continue
        if last_final is not None and f.ref.value == last_final.render(
            f.spelling, tag_prefix=config.tag_prefix, rc_token=config.rc_token
        ):
            continue
        style = config.next_version or "dev"
        want = render_dev(dev, f.spelling, style, tag_prefix=config.tag_prefix)
        lines.append(f"{f.where}: {f.ref.key} is {f.ref.value!r}, expected {want!r}")
    return lines


def unreadable(found: list[FoundVersion]) -> FoundVersion | None:
    """The first reference that is neither a version nor a development version."""
    return next((f for f in found if f.version is None and f.dev is None), None)


def rewrite_dev(
    config: Config, texts: Mapping[str, str | None], version: Version, next_version: str
) -> dict[str, str]:
    """New contents that put the development version leading to `version` into every file."""
    found = read_versions(config, texts)
    by_path: dict[str, dict[str, str]] = {}
    for f in found:
        by_path.setdefault(f.file.path, {})[f.ref.key] = render_dev(
            version, f.spelling, next_version, tag_prefix=config.tag_prefix
        )
    out: dict[str, str] = {}
    for file in config.version_files:
        old = texts[file.path] or ""
        new = update(file.kind, file.path, old, by_path.get(file.path, {}), file.pattern)
        if new != old:
            out[file.path] = new
    return out
