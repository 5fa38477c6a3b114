"""The tag index (rcflow.model.tags): what `parse_stage_tag` on every tag says, read at once."""

from __future__ import annotations

import dataclasses
import gc
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcflow.model.config import Config, parse_stage_tag
from rcflow.model.tags import Base, TagVersions
from rcflow.model.version import Version
from tests.model.test_ladder import load_config_of
from tests.model.test_states import config


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Config]:
    ladder = load_config_of(tmp_path_factory.mktemp("ladder"), 'stages = ["alpha", "beta", "rc"]\n')
    return {
        "plain": config(),
        "ladder": ladder,
        "prefix": dataclasses.replace(config(), tag_prefix="release-", rc_token="pre"),
        "bare": dataclasses.replace(ladder, tag_prefix=""),
    }


def reference(names: list[str], c: Config) -> tuple[dict[Base, str], dict[Base, list[str]]]:
    """The finals and the pre-releases by base, each tag parsed on its own."""
    finals: dict[Base, str] = {}
    pre: dict[Base, list[str]] = {}
    for name in names:
        v = parse_stage_tag(name, c)
        if v is not None and v.rc is None:
            finals[(v.major, v.minor, v.patch)] = name
        elif v is not None:
            pre.setdefault((v.major, v.minor, v.patch), []).append(name)
    return finals, pre


# What each part of a tag is spoiled with: a prefix, a number, a stage's word, an rc number.
SPOILED = [
    ["V", "vv", "xv", "v1.", "release-v"],
    *[["007", "01", "00", "٣", "1٣", "-1", "+1", " 1"]] * 3,
    ["gamma", "RC", "rc1", "", "rc.1"],
    ["0", "01", "٢", "1.1", "", "-1"],
]


@st.composite
def tag_names(draw: st.DrawFn, c: Config) -> str:
    """One of our tags, a final or a pre-release at a stage, about half of them spoiled in one
    part; a few bases only, shared by finals and their pre-releases. Or any text."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=8))
    parts = [c.tag_prefix, *(draw(st.sampled_from(["0", "0", "0", "1", "10"])) for _ in range(3))]
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from([s.token for s in c.ladder])))
        parts.append(draw(st.sampled_from(["1", "2", "10", "99999999999999999999"])))
    spoil = draw(st.integers(0, 2 * len(parts)))
    if spoil < len(parts):
        parts[spoil] = draw(st.sampled_from(SPOILED[spoil]))
    name = "{}{}.{}.{}".format(*parts[:4]) + ("-{}.{}".format(*parts[4:]) if parts[4:] else "")
    return draw(st.sampled_from([name] * 8 + [f"{name}\n", f"x{name}", name[:-1], f" {name}"]))


@st.composite
def tag_lists(draw: st.DrawFn, c: Config) -> list[str]:
    """Tags as a repository has them, in any order: releases (pre-releases at any stages, and
    most often their final) among tags nearly ours and other text."""
    names = draw(st.lists(tag_names(c), max_size=20))
    for _ in range(draw(st.integers(0, 5))):
        base = c.tag_prefix + ".".join(draw(st.sampled_from(["0", "1", "10"])) for _ in range(3))
        for n in draw(st.lists(st.sampled_from(["1", "2", "3"]), max_size=3)):
            names.append(f"{base}-{draw(st.sampled_from([s.token for s in c.ladder]))}.{n}")
        if draw(st.integers(0, 3)):
            names.append(base)
        if not draw(st.integers(0, 3)):  # nearly one of its pre-releases
            word, n = draw(st.sampled_from([[t, "1"] for t in SPOILED[4]] + [["rc", "01"]]))
            names.append(f"{base}-{word}.{n}")
    return draw(st.permutations(names))


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    which=st.sampled_from(["plain", "ladder", "prefix", "bare"]),
    as_=st.sampled_from([list, dict.fromkeys, set]),
)
def test_the_index_is_what_parsing_each_tag_says(
    configs: dict[str, Config], data: st.DataObject, which: str, as_: Callable[[list[str]], Any]
) -> None:
    c = configs[which]
    names = data.draw(tag_lists(c))
    given_names = as_(names)
    index = TagVersions(given_names, c)
    order = list(given_names)  # a set's order is its own: the index keeps the order given
    finals, pre = reference(order, c)
    versions = {n: v for n in order if (v := parse_stage_tag(n, c)) is not None}
    assert dict(index.finals) == finals and list(index.finals) == list(finals)
    assert list(index.pre_release_bases()) == list(pre)
    for base, tags in pre.items():
        assert index.pre_releases(base) == tags
    assert index.pre_releases((99, 99, 99)) == []
    assert list(index) == [*finals.values(), *(n for tags in pre.values() for n in tags)]
    assert dict(index) == versions and len(index) == len(versions)
    assert set(index.names()) == set(versions)
    for name in [*names, "v1.2.3", "release-1.2.3-pre.1"]:
        assert (name in index) == (name in versions)
        assert index.get_version(name) == versions.get(name)
    # Asked after iterating (the pre-releases grouped): the same answers.
    assert {b: index.pre_releases(b) for b in pre} == pre


def test_an_index_of_versions_parsed_already_says_what_they_say() -> None:
    told = {"v1.3.0": Version(9, 9, 9), "v1.4.0-rc.2": Version(1, 4, 0, 2), "x": Version(1, 0, 0)}
    index = TagVersions.of(told, config())
    assert dict(index.finals) == {(9, 9, 9): "v1.3.0", (1, 0, 0): "x"}
    assert index.pre_releases((1, 4, 0)) == ["v1.4.0-rc.2"] and list(index.pre_release_bases())
    assert dict(index) == told and index["v1.3.0"] is told["v1.3.0"]


def _releases(n: int) -> dict[str, str]:
    """n releases, an RC and a final each, among as many tags of another package."""
    names = {f"v1.{i}.0-rc.1": "a" for i in range(n)} | {f"v1.{i}.0": "a" for i in range(n)}
    return names | {f"other-{i}.0.0": "b" for i in range(2 * n)}


def _calls(build: Callable[[], object]) -> int:
    """The calls (of Python functions and of builtins) made from Python while `build` runs;
    without the cyclic collector, as `status` runs (its passes call back into hypothesis)."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        count += event in ("call", "c_call")

    collecting = gc.isenabled()
    gc.disable()
    sys.setprofile(profile)
    try:
        build()
    finally:
        sys.setprofile(None)
        if collecting:
            gc.enable()
    return count


def _status_reads(index: TagVersions) -> object:
    """What observe and classify read of the index, nothing in flight: the newest finals."""
    top = max(index.finals)
    return dict(index.finals), [b for b in index.pre_release_bases() if b > top]


def test_reading_5000_releases_tags_makes_as_many_calls_as_reading_50() -> None:
    c = config()
    few, many = _releases(50), _releases(5000)
    _status_reads(TagVersions(few, c))  # the patterns compiled, the rc token checked
    assert _calls(lambda: _status_reads(TagVersions(many, c))) == _calls(
        lambda: _status_reads(TagVersions(few, c))
    )
    index = TagVersions(many, c)
    assert len(index) == 10_000 and index.finals[(1, 4999, 0)] == "v1.4999.0"
    assert index.pre_releases((1, 77, 0)) == ["v1.77.0-rc.1"] and "other-1.0.0" not in index
    assert not index._built  # no Version built: none was read
