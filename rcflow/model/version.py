"""Versions: parse, compare, bump and render the three spellings. Pure."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from enum import StrEnum

from rcflow.errors import VersionError
from rcflow.lazy_re import lazy
from rcflow.record import dataclass


class Spelling(StrEnum):
    SEMVER = "semver"  # 1.4.0-rc.1
    PEP440 = "pep440"  # 1.4.0rc1
    TAG = "tag"  # v1.4.0-rc.1 (the configured tag prefix)


PARTS = ("major", "minor", "patch")
# Defaults shared by every function here and by callers that build their own config defaults.
DEFAULT_TAG_PREFIX = "v"
DEFAULT_RC_TOKEN = "rc"  # noqa: S105 - the RC word in a version, not a secret

_LAST_RANK = 1 << 16  # the last stage sorts above every configured lower stage

# A single semver prerelease identifier that is not purely numeric: anything else would either
# not survive a semver parse or would compare numerically against the RC number.
_RC_TOKEN = lazy(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*")
# PEP 440 normal form only, so that parsing accepts exactly what render produces. [0-9] rather
# than \d: \d also matches non-ASCII digits, which int() would happily accept.
_PEP440 = lazy(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:rc([1-9][0-9]*))?")


def _check_rc_token(rc_token: str) -> None:
    if not _RC_TOKEN.fullmatch(rc_token):
        raise VersionError(f"not a usable rc token: {rc_token!r}")


@dataclass(frozen=True)
class StageWord:
    """A pre-release stage below the last one (the RC): how its versions are spelled and where
    it sits on the ladder (`rank` 0 is the first stage). The last stage needs none: it is
    spelled with `rc_token` and PEP 440's `rc`, as when rcflow knew one stage."""

    rank: int
    token: str  # semver / tag word: 1.4.0-beta.2
    pep440: str  # PEP 440 phase: "a" or "b" (1.4.0b2)


@dataclass(frozen=True)
class Version:
    """A final release or one of its pre-releases; nothing else is representable."""

    major: int
    minor: int
    patch: int
    rc: int | None = None  # None = final; else the pre-release number (>= 1)
    # The stage of a pre-release below the last one; None: the last stage (the RC) or a final.
    stage: StageWord | None = None

    def __post_init__(self) -> None:
        if min(self.major, self.minor, self.patch) < 0:
            raise VersionError(
                f"negative version component: {self.major}.{self.minor}.{self.patch}"
            )
        if self.rc is not None and self.rc < 1:
            raise VersionError(f"rc numbers start at 1, got {self.rc}")
        if self.stage is not None and self.rc is None:
            raise VersionError("a final has no stage")

    def _key(self) -> tuple[int, int, int, int, int, int]:
        # A final sorts after all of its pre-releases, as in semver precedence; a lower stage
        # before a higher one, whatever their numbers.
        if self.rc is None:
            return (self.major, self.minor, self.patch, 1, 0, 0)
        rank = self.stage.rank if self.stage is not None else _LAST_RANK
        return (self.major, self.minor, self.patch, 0, rank, self.rc)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() >= other._key()

    @property
    def is_final(self) -> bool:
        return self.rc is None

    @property
    def base(self) -> Version:
        return Version(self.major, self.minor, self.patch)

    def with_rc(self, n: int) -> Version:
        return Version(self.major, self.minor, self.patch, n)

    def at_stage(self, stage: StageWord | None, n: int) -> Version:
        """Pre-release n of this version's base at `stage` (None: the last stage)."""
        return Version(self.major, self.minor, self.patch, n, stage)

    def bump(self, part: str) -> Version:
        """The next final after this version's base: 1.4.0-rc.2 bumped by patch is 1.4.1."""
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise VersionError(f"not a version part: {part!r} (expected major, minor or patch)")

    def render(
        self,
        spelling: Spelling,
        *,
        tag_prefix: str = DEFAULT_TAG_PREFIX,
        rc_token: str = DEFAULT_RC_TOKEN,
    ) -> str:
        """SEMVER and TAG use `rc_token`; PEP440 always says "rc", the only RC word it knows."""
        core = f"{self.major}.{self.minor}.{self.patch}"
        if spelling is Spelling.PEP440:
            phase = self.stage.pep440 if self.stage is not None else "rc"
            return core if self.rc is None else f"{core}{phase}{self.rc}"
        if self.stage is not None:
            rc_token = self.stage.token
        _check_rc_token(rc_token)
        semver_form = core if self.rc is None else f"{core}-{rc_token}.{self.rc}"
        if spelling is Spelling.SEMVER:
            return semver_form
        return f"{tag_prefix}{semver_form}"

    def __str__(self) -> str:
        return self.render(Spelling.SEMVER)


def _parse_semver(text: str, rc_token: str) -> Version:
    plain = _PLAIN_SEMVER.fullmatch(text)
    if plain is not None:
        # X.Y.Z and X.Y.Z-<rc_token>.N, what version files and tags hold, read as semver.Version
        # reads them (the same numbers, nothing else), without importing it (a status reads one).
        major, minor, patch, token, rc = plain.groups()
        if token is None or token == rc_token:
            return Version(int(major), int(minor), int(patch), None if rc is None else int(rc))
    import semver  # only explicit versions need the full grammar; tags take the fast path

    try:
        sv = semver.Version.parse(text)
    except (ValueError, TypeError):
        raise VersionError(f"not a version: {text!r}") from None
    if sv.build is not None:
        raise VersionError(f"not a version: {text!r} (build metadata is not used)")
    if sv.prerelease is None:
        return Version(sv.major, sv.minor, sv.patch)
    m = re.fullmatch(rf"{re.escape(rc_token)}\.([1-9][0-9]*)", sv.prerelease)
    if m is None:
        raise VersionError(f"not a version: {text!r} (prerelease must be {rc_token}.N, N >= 1)")
    return Version(sv.major, sv.minor, sv.patch, int(m.group(1)))


_PLAIN_SEMVER = lazy(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z-]+)\.([1-9][0-9]*))?"
)


def _parse_one(text: str, spelling: Spelling, tag_prefix: str, rc_token: str) -> Version:
    if spelling is Spelling.PEP440:
        m = _PEP440.fullmatch(text)
        if m is None:
            raise VersionError(f"not a version: {text!r}")
        rc = None if m.group(4) is None else int(m.group(4))
        return Version(int(m.group(1)), int(m.group(2)), int(m.group(3)), rc)
    if spelling is Spelling.SEMVER:
        return _parse_semver(text, rc_token)
    if not text.startswith(tag_prefix):
        raise VersionError(f"not a version: {text!r} (expected prefix {tag_prefix!r})")
    try:
        return _parse_semver(text[len(tag_prefix) :], rc_token)
    except VersionError:
        raise VersionError(f"not a version: {text!r}") from None


def parse(
    text: str,
    spelling: Spelling | None = None,
    *,
    tag_prefix: str = DEFAULT_TAG_PREFIX,
    rc_token: str = DEFAULT_RC_TOKEN,
) -> Version:
    """Parse `text` in `spelling` (any of the three when None).

    Only what `Version.render` can produce is accepted, so parse and render round-trip.
    """
    _check_rc_token(rc_token)
    if spelling is not None:
        return _parse_one(text, spelling, tag_prefix, rc_token)
    for candidate in Spelling:
        try:
            return _parse_one(text, candidate, tag_prefix, rc_token)
        except VersionError:
            continue
    raise VersionError(f"not a version: {text!r}")


def tag_matcher(tag_prefix: str, rc_token: str) -> Callable[[str], bool]:
    """A fast test for "is this one of our tags" (no Version is built) for scanning all refs."""
    _check_rc_token(rc_token)
    pattern = _tag_pattern(tag_prefix, rc_token)
    return lambda name: pattern.fullmatch(name) is not None


@functools.lru_cache(maxsize=16)
def _tag_pattern(tag_prefix: str, rc_token: str) -> re.Pattern[str]:
    # The exact grammar render produces; ASCII digits only, no leading zeros, rc numbers >= 1.
    n = "(0|[1-9][0-9]*)"
    return re.compile(
        rf"{re.escape(tag_prefix)}{n}\.{n}\.{n}(?:-{re.escape(rc_token)}\.([1-9][0-9]*))?"
    )


def parse_tag(
    tag: str, *, tag_prefix: str = DEFAULT_TAG_PREFIX, rc_token: str = DEFAULT_RC_TOKEN
) -> Version | None:
    """The version a tag names, or None when the tag is not one of ours (never an error).

    Called for every tag of a repository, by observe, classify and forge_drift alike, so it is
    one regex match, once per tag per process: the cache holds every tag of the repository (a
    bounded LRU smaller than the tags re-parsed all of them on every pass). The tests hold it
    equal to `parse(tag, Spelling.TAG)`.
    """
    key = (tag, tag_prefix, rc_token)
    try:
        return _parsed_tags[key]
    except KeyError:
        pass
    # A bad rc token is a configuration error, not a foreign tag: let it raise (checked once
    # per token, not once per tag).
    if rc_token not in _good_tokens:
        _check_rc_token(rc_token)
        _good_tokens.add(rc_token)
    m = _tag_pattern(tag_prefix, rc_token).fullmatch(tag)
    rc = None if m is None or m.group(4) is None else int(m.group(4))
    found = None if m is None else Version(int(m.group(1)), int(m.group(2)), int(m.group(3)), rc)
    if len(_parsed_tags) >= _PARSED_TAGS_MAX:
        _parsed_tags.clear()  # a long-lived process (the tests) keeps it bounded
    _parsed_tags[key] = found
    return found


# tag spelling -> its version; sized for the repositories rcflow serves (200k tags), not 8k.
_parsed_tags: dict[tuple[str, str, str], Version | None] = {}
_good_tokens: set[str] = set()
_PARSED_TAGS_MAX = 200_000


def tag_name(
    version: Version, *, tag_prefix: str = DEFAULT_TAG_PREFIX, rc_token: str = DEFAULT_RC_TOKEN
) -> str:
    return version.render(Spelling.TAG, tag_prefix=tag_prefix, rc_token=rc_token)


def next_rc_number(used: Iterable[int]) -> int:
    """One past the highest RC number ever used: withdrawn RCs keep their numbers."""
    return max(used, default=0) + 1


def resolve_target(
    request: str,
    current: Version | None,
    last_final: Version | None,
    auto_part: str | None = None,
    *,
    tag_prefix: str = DEFAULT_TAG_PREFIX,
) -> Version:
    """The final version a release cycle aims at.

    `request` is a part ("major", "minor", "patch"), "auto" (use `auto_part`, computed from the
    commits) or an explicit final "X.Y.Z". Parts bump from the greater of `current.base` (the
    version in the files) and `last_final` (the last released tag). The result must be greater
    than `last_final`. `tag_prefix` only names the last release tag in messages.
    """
    if request in PARTS or request == "auto":
        if request == "auto":
            if auto_part is None:
                since = (
                    "the start of history"
                    if last_final is None
                    else tag_name(last_final, tag_prefix=tag_prefix)
                )
                raise VersionError(
                    f"no feat/fix/breaking commits since {since}: nothing to release; "
                    "name a part or version explicitly"
                )
            part = auto_part
        else:
            part = request
        bases = [v for v in (last_final,) if v is not None]
        if current is not None:
            bases.append(current.base)
        if not bases:
            raise VersionError(f"no current version to bump by {part}; name a version explicitly")
        target = max(bases).bump(part)
    else:
        target = _parse_explicit_target(request)
    if last_final is not None and not target > last_final:
        raise VersionError(f"target {target} is not greater than the last release {last_final}")
    return target


def _parse_explicit_target(request: str) -> Version:
    try:
        target = parse(request, Spelling.SEMVER)
    except VersionError:
        # Say "must be final" for any prerelease, not just our rc spelling.
        import semver

        try:
            prerelease = semver.Version.parse(request).prerelease
        except ValueError:
            prerelease = None
        if prerelease is not None:
            raise VersionError(f"a bump target must be a final version, not {request!r}") from None
        raise VersionError(
            f"not a version or part: {request!r} (expected major, minor, patch, auto or X.Y.Z)"
        ) from None
    if not target.is_final:
        raise VersionError(f"a bump target must be a final version, not {request!r}")
    return target


# --- development versions -------------------------------------------------------------------------
# What a project keeps in its files between releases: a PEP 440 pre-release or development release
# (1.4.0.dev0, 1.4.0a1, 26.3.dev0) or a semver pre-release (3.8.0-alpha.0, 1.4.0-SNAPSHOT). rcflow
# never releases such a version; it reads it as "on the way to X.Y.Z", which `bump` overwrites.
_N = "(0|[1-9][0-9]*)"
_PEP440_DEV = lazy(
    rf"{_N}(?:\.{_N})?(?:\.{_N})?"
    r"(?P<pre>[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)(?:[-_.]?[0-9]+)?)?"
    r"(?P<dev>[-_.]?dev(?:[-_.]?[0-9]+)?)?",
    re.IGNORECASE,
)
_SEMVER_DEV = lazy(rf"{_N}\.{_N}\.{_N}-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)")
# The normal forms `render_dev` writes: PEP 440 (a|b|rc)N[.devN] or .devN; a semver pre-release.
_PEP440_DEV_SUFFIX = lazy(r"(?:(?:a|b|rc)(?:0|[1-9][0-9]*))?(?:\.dev(?:0|[1-9][0-9]*))?")
_SEMVER_DEV_SUFFIX = lazy(r"-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*")
NEXT_VERSION_DEV = "dev"  # config `next_version = "dev"`: each spelling's own development form


def parse_dev(text: str, *, tag_prefix: str = DEFAULT_TAG_PREFIX) -> Version | None:
    """The final X.Y.Z a development or pre-release version leads to, or None.

    Finals are not development versions (None). A PEP 440 release with fewer than three parts is
    padded (`26.3.dev0` leads to 26.3.0); a semver pre-release needs all three. An identifier
    of all digits with a leading zero is not semver, and is refused like any other non-version.
    """
    if tag_prefix and text.startswith(tag_prefix):
        text = text[len(tag_prefix) :]
    m = _PEP440_DEV.fullmatch(text)
    if m is not None and (m.group("pre") or m.group("dev")):
        return Version(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))
    m = _SEMVER_DEV.fullmatch(text)
    if m is None:
        return None
    if any(
        part.isdigit() and len(part) > 1 and part.startswith("0")
        for part in m.group("pre").split(".")
    ):
        return None
    return Version(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def check_next_version(value: str, rc_token: str = DEFAULT_RC_TOKEN) -> str | None:
    """Why `value` cannot be a `next_version` setting, or None when it can.

    A suffix must read back as a development version (`parse_dev`) and never as one of rcflow's
    own release candidates, which the files carry with `rc_in_files`.
    """
    if value == NEXT_VERSION_DEV:
        return None
    why = (
        f'{value!r} is neither "dev" nor a development suffix '
        '(".dev0", "a0", "-alpha.0", "-SNAPSHOT")'
    )
    probe = Version(1, 0, 0)
    for spelling in (Spelling.PEP440, Spelling.SEMVER):
        text = render_dev(probe, spelling, value)
        if text.endswith(value) and parse_dev(text) != probe:
            return why
    if not (value and _PEP440_DEV_SUFFIX.fullmatch(value)) and not _SEMVER_DEV_SUFFIX.fullmatch(
        value
    ):
        return why
    if value.startswith((f"-{rc_token}.", "rc")):
        return f"{value!r} would read as a release candidate; use another suffix"
    return None


def render_dev(
    version: Version,
    spelling: Spelling,
    next_version: str = NEXT_VERSION_DEV,
    *,
    tag_prefix: str = DEFAULT_TAG_PREFIX,
) -> str:
    """The development version leading to `version`, in `spelling`.

    `next_version` is "dev" (PEP 440 `X.Y.Z.dev0`, semver `X.Y.Z-dev.0`) or the suffix a project
    uses. A suffix that the spelling's grammar does not allow falls back to that spelling's own
    form: `.dev0` is not semver, so a Go file gets `-dev.0` while a pyproject.toml gets `.dev0`.
    """
    core = f"{version.major}.{version.minor}.{version.patch}"
    if spelling is Spelling.PEP440:
        suffix = ".dev0"
        if next_version != NEXT_VERSION_DEV and _PEP440_DEV_SUFFIX.fullmatch(next_version):
            suffix = next_version or suffix
        return core + suffix
    suffix = "-dev.0"
    if next_version != NEXT_VERSION_DEV and _SEMVER_DEV_SUFFIX.fullmatch(next_version):
        suffix = next_version
    return (tag_prefix if spelling is Spelling.TAG else "") + core + suffix
