from __future__ import annotations

import re

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from rcflow.errors import VersionError
from rcflow.model.version import (
    Spelling,
    Version,
    check_next_version,
    next_rc_number,
    parse,
    parse_dev,
    parse_tag,
    render_dev,
    resolve_target,
    tag_name,
)

numbers = st.integers(min_value=0, max_value=10_000)
rcs = st.none() | st.integers(min_value=1, max_value=10_000)
versions = st.builds(Version, numbers, numbers, numbers, rcs)
prefixes = st.sampled_from(["v", "", "release-"])
tokens = st.sampled_from(["rc", "beta", "RC", "pre-release"])


# --- rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "spelling", "kwargs", "expected"),
    [
        (Version(1, 4, 0), Spelling.SEMVER, {}, "1.4.0"),
        (Version(1, 4, 0, 1), Spelling.SEMVER, {}, "1.4.0-rc.1"),
        (Version(1, 4, 0), Spelling.PEP440, {}, "1.4.0"),
        (Version(1, 4, 0, 1), Spelling.PEP440, {}, "1.4.0rc1"),
        (Version(1, 4, 0, 12), Spelling.PEP440, {"rc_token": "beta"}, "1.4.0rc12"),
        (Version(1, 4, 0), Spelling.TAG, {}, "v1.4.0"),
        (Version(1, 4, 0, 1), Spelling.TAG, {}, "v1.4.0-rc.1"),
        (Version(1, 4, 0, 1), Spelling.TAG, {"rc_token": "beta"}, "v1.4.0-beta.1"),
        (Version(1, 4, 0, 3), Spelling.TAG, {"tag_prefix": "release-"}, "release-1.4.0-rc.3"),
        (Version(1, 4, 0, 3), Spelling.TAG, {"tag_prefix": ""}, "1.4.0-rc.3"),
        (Version(0, 0, 0), Spelling.TAG, {}, "v0.0.0"),
    ],
)
def test_render(
    version: Version, spelling: Spelling, kwargs: dict[str, str], expected: str
) -> None:
    assert version.render(spelling, **kwargs) == expected


def test_str_is_semver() -> None:
    assert str(Version(2, 0, 10, 7)) == "2.0.10-rc.7"
    assert str(Version(2, 0, 10)) == "2.0.10"


def test_tag_name() -> None:
    assert tag_name(Version(1, 4, 0, 2)) == "v1.4.0-rc.2"
    assert tag_name(Version(1, 4, 0, 2), tag_prefix="", rc_token="beta") == "1.4.0-beta.2"


def test_bad_rc_token_is_refused() -> None:
    with pytest.raises(VersionError, match="rc token"):
        Version(1, 0, 0, 1).render(Spelling.SEMVER, rc_token="r.c")
    with pytest.raises(VersionError, match="rc token"):
        parse("1.0.0", rc_token="")
    with pytest.raises(VersionError, match="rc token"):
        parse_tag("v1.0.0", rc_token="12")


def test_invalid_versions_cannot_be_built() -> None:
    with pytest.raises(VersionError):
        Version(1, 0, 0, 0)
    with pytest.raises(VersionError):
        Version(1, -1, 0)


# --- parsing ---------------------------------------------------------------------------------


@given(versions, st.sampled_from(list(Spelling)), prefixes, tokens)
def test_round_trip_each_spelling(v: Version, spelling: Spelling, prefix: str, token: str) -> None:
    text = v.render(spelling, tag_prefix=prefix, rc_token=token)
    assert parse(text, spelling, tag_prefix=prefix, rc_token=token) == v
    assert parse(text, None, tag_prefix=prefix, rc_token=token) == v


@given(versions, prefixes, tokens)
def test_tag_round_trip(v: Version, prefix: str, token: str) -> None:
    assert (
        parse_tag(tag_name(v, tag_prefix=prefix, rc_token=token), tag_prefix=prefix, rc_token=token)
        == v
    )


@pytest.mark.parametrize(
    ("text", "spelling", "expected"),
    [
        ("1.4.0", Spelling.SEMVER, Version(1, 4, 0)),
        ("1.4.0-rc.2", Spelling.SEMVER, Version(1, 4, 0, 2)),
        ("1.4.0rc2", Spelling.PEP440, Version(1, 4, 0, 2)),
        ("v1.4.0-rc.10", Spelling.TAG, Version(1, 4, 0, 10)),
        ("1.4.0rc2", None, Version(1, 4, 0, 2)),
        ("v1.4.0", None, Version(1, 4, 0)),
        ("10.20.30-rc.40", None, Version(10, 20, 30, 40)),
    ],
)
def test_parse_accepts(text: str, spelling: Spelling | None, expected: Version) -> None:
    assert parse(text, spelling) == expected


@pytest.mark.parametrize(
    ("text", "spelling"),
    [
        ("1.4", None),
        ("1", None),
        ("", None),
        ("01.4.0", None),
        ("1.04.0", None),
        ("1.4.00", None),
        ("1.4.0-rc.01", None),
        ("1.4.0rc01", None),
        ("1.4.0+build.5", None),
        ("1.4.0-rc.1+build.5", None),
        ("v1.4.0+build", None),
        ("1.4.0-alpha.1", None),
        ("1.4.0-beta.1", None),
        ("1.4.0-rc", None),
        ("1.4.0-rc.1.2", None),
        ("1.4.0a1", None),
        ("1.4.0.rc1", None),
        ("1.4.0-rc1", None),
        ("1.4.0.post1", None),
        ("1.4.0.dev1", None),
        ("v1.4.0.rc.1", None),
        ("1.4.0rc0", None),
        ("1.4.0-rc.0", None),
        ("v1.4.0-rc.0", None),
        ("V1.4.0", None),
        (" 1.4.0", None),
        ("1.4.0\n", None),
        ("1.4.0rc1\n", None),
        ("١.4.0", None),  # a non-ASCII digit
        ("v1.4.0", Spelling.SEMVER),
        ("v1.4.0", Spelling.PEP440),
        ("v1.4.0rc1", Spelling.PEP440),
        ("1.4.0rc1", Spelling.SEMVER),
        ("1.4.0-rc.1", Spelling.PEP440),
        ("1.4.0", Spelling.TAG),
        ("v1.4.0rc1", Spelling.TAG),
    ],
)
def test_parse_rejects(text: str, spelling: Spelling | None) -> None:
    with pytest.raises(VersionError, match="not a version"):
        parse(text, spelling)


def test_parse_with_custom_token_rejects_plain_rc() -> None:
    assert parse("1.4.0-beta.3", rc_token="beta") == Version(1, 4, 0, 3)
    with pytest.raises(VersionError):
        parse("1.4.0-rc.3", Spelling.SEMVER, rc_token="beta")
    # PEP 440 only knows "rc", whatever the token.
    assert parse("1.4.0rc3", Spelling.PEP440, rc_token="beta") == Version(1, 4, 0, 3)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.4.0", Version(1, 4, 0)),
        ("v1.4.0-rc.2", Version(1, 4, 0, 2)),
        ("release-1", None),
        ("v1.4", None),
        ("v1.4.0-beta.1", None),
        ("1.4.0", None),
        ("v1.4.0-rc.0", None),
        ("latest", None),
        ("", None),
    ],
)
def test_parse_tag(tag: str, expected: Version | None) -> None:
    assert parse_tag(tag) == expected


def test_parse_tag_other_prefix() -> None:
    assert parse_tag("release-2.0.0", tag_prefix="release-") == Version(2, 0, 0)
    assert parse_tag("v2.0.0", tag_prefix="release-") is None
    assert parse_tag("2.0.0-beta.1", tag_prefix="", rc_token="beta") == Version(2, 0, 0, 1)


# --- ordering --------------------------------------------------------------------------------


def test_ordering_examples() -> None:
    chain = [
        Version(1, 4, 0, 1),
        Version(1, 4, 0, 2),
        Version(1, 4, 0, 10),
        Version(1, 4, 0),
        Version(1, 4, 1, 1),
        Version(1, 4, 1),
        Version(1, 5, 0),
        Version(2, 0, 0, 1),
    ]
    assert sorted(reversed(chain)) == chain
    assert Version(1, 4, 0, 2) <= Version(1, 4, 0, 2)
    assert Version(1, 4, 0) >= Version(1, 4, 0, 99)
    assert not Version(1, 4, 0) < Version(1, 4, 0)


@given(versions, versions)
def test_ordering_matches_semver(a: Version, b: Version) -> None:
    expected = semver.Version.parse(str(a)).compare(str(b))
    got = (a > b) - (a < b)
    assert got == expected
    assert (a == b) == (expected == 0)
    assert (a <= b) == (expected <= 0)
    assert (a >= b) == (expected >= 0)


def test_properties() -> None:
    v = Version(1, 4, 0, 3)
    assert not v.is_final
    assert v.base == Version(1, 4, 0)
    assert v.base.is_final
    assert v.base.with_rc(4) == Version(1, 4, 0, 4)


# --- bumping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [
        (Version(1, 4, 2), "major", Version(2, 0, 0)),
        (Version(1, 4, 2), "minor", Version(1, 5, 0)),
        (Version(1, 4, 2), "patch", Version(1, 4, 3)),
        (Version(1, 4, 0, 2), "patch", Version(1, 4, 1)),
        (Version(1, 4, 0, 2), "minor", Version(1, 5, 0)),
        (Version(0, 9, 9), "major", Version(1, 0, 0)),
    ],
)
def test_bump(version: Version, part: str, expected: Version) -> None:
    assert version.bump(part) == expected


@pytest.mark.parametrize("part", ["Major", "rc", "", "auto"])
def test_bump_unknown_part(part: str) -> None:
    with pytest.raises(VersionError, match="not a version part"):
        Version(1, 0, 0).bump(part)


@given(versions, st.sampled_from(["major", "minor", "patch"]))
def test_bump_is_final_and_greater(v: Version, part: str) -> None:
    bumped = v.bump(part)
    assert bumped.is_final
    assert bumped > v
    assert bumped > v.base


# --- RC numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "expected"), [([], 1), ([1], 2), ([1, 2, 3], 4), ([3, 1], 4), ((n for n in [2]), 3)]
)
def test_next_rc_number(used: list[int], expected: int) -> None:
    assert next_rc_number(used) == expected


# --- resolve_target --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "current", "last_final", "auto_part", "expected"),
    [
        ("minor", Version(1, 3, 0), Version(1, 3, 0), None, Version(1, 4, 0)),
        ("patch", Version(1, 3, 0), Version(1, 3, 0), None, Version(1, 3, 1)),
        ("major", Version(1, 3, 0), Version(1, 3, 0), None, Version(2, 0, 0)),
        # The files lag behind the tags: bump from the last release.
        ("minor", Version(1, 2, 0), Version(1, 3, 0), None, Version(1, 4, 0)),
        # The files run ahead (an RC in them): bump from their base.
        ("patch", Version(1, 4, 0, 2), Version(1, 3, 0), None, Version(1, 4, 1)),
        ("minor", None, Version(1, 3, 0), None, Version(1, 4, 0)),
        ("minor", Version(0, 1, 0), None, None, Version(0, 2, 0)),
        ("auto", Version(1, 3, 0), Version(1, 3, 0), "patch", Version(1, 3, 1)),
        ("auto", Version(1, 3, 0), Version(1, 3, 0), "major", Version(2, 0, 0)),
        ("2.0.0", Version(1, 3, 0), Version(1, 3, 0), None, Version(2, 0, 0)),
        ("1.3.1", None, Version(1, 3, 0), None, Version(1, 3, 1)),
        ("0.1.0", None, None, None, Version(0, 1, 0)),
    ],
)
def test_resolve_target(
    request_: str,
    current: Version | None,
    last_final: Version | None,
    auto_part: str | None,
    expected: Version,
) -> None:
    assert resolve_target(request_, current, last_final, auto_part) == expected


def test_resolve_target_not_greater() -> None:
    with pytest.raises(VersionError) as info:
        resolve_target("1.3.0", None, Version(1, 3, 0))
    assert info.value.message == "target 1.3.0 is not greater than the last release 1.3.0"
    with pytest.raises(VersionError, match=re.escape("not greater than the last release 1.3.0")):
        resolve_target("1.2.9", Version(1, 4, 0), Version(1, 3, 0))


@pytest.mark.parametrize("request_", ["1.4.0-rc.1", "1.4.0-alpha.1", "1.4.0-beta.2"])
def test_resolve_target_refuses_explicit_prerelease(request_: str) -> None:
    with pytest.raises(VersionError, match="a bump target must be a final version"):
        resolve_target(request_, Version(1, 3, 0), Version(1, 3, 0))


@pytest.mark.parametrize("request_", ["1.4", "v1.4.0", "next", "MINOR", ""])
def test_resolve_target_refuses_nonsense(request_: str) -> None:
    with pytest.raises(VersionError, match="not a version or part"):
        resolve_target(request_, Version(1, 3, 0), Version(1, 3, 0))


def test_resolve_target_auto_without_releasable_commits() -> None:
    with pytest.raises(VersionError) as info:
        resolve_target("auto", Version(1, 3, 0), Version(1, 3, 0), None)
    assert info.value.message == (
        "no feat/fix/breaking commits since v1.3.0: nothing to release; "
        "name a part or version explicitly"
    )
    with pytest.raises(VersionError, match=re.escape("since release-1.3.0:")):
        resolve_target("auto", None, Version(1, 3, 0), None, tag_prefix="release-")
    with pytest.raises(VersionError, match="since the start of history:"):
        resolve_target("auto", Version(0, 1, 0), None, None)


def test_resolve_target_needs_a_base() -> None:
    with pytest.raises(VersionError, match="no current version"):
        resolve_target("minor", None, None)
    with pytest.raises(VersionError, match="no current version"):
        resolve_target("auto", None, None, "minor")


@given(
    st.sampled_from(["major", "minor", "patch"]),
    st.none() | versions,
    st.none() | versions.map(lambda v: v.base),
)
def test_resolve_target_parts_always_exceed_last_final(
    part: str, current: Version | None, last_final: Version | None
) -> None:
    if current is None and last_final is None:
        return
    target = resolve_target(part, current, last_final)
    assert target.is_final
    if last_final is not None:
        assert target > last_final
    if current is not None:
        assert target > current


@given(
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.one_of(st.none(), st.integers(1, 500)),
    st.sampled_from(["v", "", "release-"]),
    st.sampled_from(["rc", "beta"]),
)
def test_parse_tag_fast_path_agrees_with_parse(
    major: int, minor: int, patch: int, rc: int | None, prefix: str, token: str
) -> None:
    tag = Version(major, minor, patch, rc).render(Spelling.TAG, tag_prefix=prefix, rc_token=token)
    assert parse_tag(tag, tag_prefix=prefix, rc_token=token) == parse(
        tag, Spelling.TAG, tag_prefix=prefix, rc_token=token
    )


@pytest.mark.parametrize(
    "tag", ["v01.2.3", "v1.2.3-rc.0", "v1.2.3-rc.01", "v1.2.3-rc1", "v1.2.3 ", "v١.2.3", "v1.2"]
)
def test_parse_tag_fast_path_rejects_what_parse_rejects(tag: str) -> None:
    assert parse_tag(tag) is None
    with pytest.raises(VersionError):
        parse(tag, Spelling.TAG)


# -- development versions --------------------------------------------------------------------

finals = st.builds(Version, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))
semver_ident = st.from_regex(r"[A-Za-z-][0-9A-Za-z-]{0,8}|0|[1-9][0-9]{0,5}", fullmatch=True)
dev_suffixes = st.one_of(
    st.just("dev"),
    st.from_regex(
        r"(?:(?:a|b)(?:0|[1-9][0-9]{0,3}))?(?:\.dev(?:0|[1-9][0-9]{0,3}))?", fullmatch=True
    ),
    st.lists(semver_ident, min_size=1, max_size=3).map(lambda ids: "-" + ".".join(ids)),
)


@given(finals, st.sampled_from(list(Spelling)), dev_suffixes, prefixes)
def test_a_rendered_development_version_reads_back_as_on_the_way_to_its_final(
    v: Version, spelling: Spelling, suffix: str, prefix: str
) -> None:
    if check_next_version(suffix) is not None:
        return  # the config refuses it (a suffix that reads as an RC, an empty one)
    text = render_dev(v, spelling, suffix, tag_prefix=prefix)
    assert parse_dev(text, tag_prefix=prefix) == v
    # Never a final or an RC of ours: bump must see it as something to overwrite.
    with pytest.raises(VersionError):
        parse(text, Spelling.SEMVER)
    assert parse_tag(text, tag_prefix=prefix) is None


@given(finals, st.sampled_from(list(Spelling)), prefixes, tokens)
def test_finals_are_not_development_versions(
    v: Version, spelling: Spelling, prefix: str, token: str
) -> None:
    assert (
        parse_dev(v.render(spelling, tag_prefix=prefix, rc_token=token), tag_prefix=prefix) is None
    )


@pytest.mark.parametrize(
    ("text", "final"),
    [
        ("26.3.dev0", "26.3.0"),
        ("1.4.0.dev0", "1.4.0"),
        ("1.4.0a1", "1.4.0"),
        ("1.4.0b2", "1.4.0"),
        ("1.4.0rc1", "1.4.0"),
        ("3.8.0-alpha.0", "3.8.0"),
        ("v3.8.0-alpha.0", "3.8.0"),
        ("1.4.0-SNAPSHOT", "1.4.0"),
    ],
)
def test_development_versions_projects_keep(text: str, final: str) -> None:
    assert str(parse_dev(text)) == final


@pytest.mark.parametrize("text", ["1.4.0", "1.4", "banana", "1.4.0-01", "1.4.0+build", "01.2.3a1"])
def test_what_is_not_a_development_version(text: str) -> None:
    assert parse_dev(text) is None


_PART = st.sampled_from(["0", "1", "01", "12", "x"])
_TEXTS = st.builds(
    lambda a, b, c, pre, n: f"{a}.{b}.{c}" + (f"-{pre}.{n}" if pre else ""),
    _PART,
    _PART,
    _PART,
    st.sampled_from(["", "rc", "beta", "alpha-rc", "RC"]),
    st.sampled_from(["1", "2", "0", "01", "10"]),
) | st.text(alphabet="0123456789.-+rcab", max_size=14)


@given(_TEXTS, st.sampled_from(["rc", "beta"]))
def test_plain_versions_read_without_semver_as_semver_reads_them(text: str, token: str) -> None:
    """X.Y.Z[-TOKEN.N] is read by a pattern (no import of semver on the status path); every
    text reads as it did through semver.Version.parse: the same version or the same refusal."""
    from rcflow.model import version

    def outcome(read: object) -> object:
        try:
            return read()  # type: ignore[operator]
        except VersionError as exc:
            return str(exc)

    fast = outcome(lambda: version._parse_semver(text, token))
    plain = version._PLAIN_SEMVER
    try:
        version._PLAIN_SEMVER = re.compile("(?!)")  # type: ignore[assignment]
        slow = outcome(lambda: version._parse_semver(text, token))
    finally:
        version._PLAIN_SEMVER = plain
    assert fast == slow
