"""rcflow.lazy_re: a pattern compiled on first use answers as `re.compile` would."""

from __future__ import annotations

import re

from rcflow.lazy_re import lazy


def test_compiled_on_first_use_and_once() -> None:
    p = lazy(r"(?P<word>[a-z]+)-(\d+)", re.IGNORECASE)
    assert p._compiled is None
    assert p.pattern == r"(?P<word>[a-z]+)-(\d+)"
    m = p.fullmatch("Ab-12")
    assert m is not None and m.group("word") == "Ab"
    first = p._compiled
    assert first is not None and p.compiled is first


def test_every_method_answers_as_re() -> None:
    source, text = r"(\w)=(\d)", "a=1, b=2; c=x"
    p, r = lazy(source, re.MULTILINE), re.compile(source, re.MULTILINE)
    assert (p.flags, dict(p.groupindex)) == (r.flags, dict(r.groupindex))
    for name in ("match", "fullmatch", "search"):
        mine, theirs = getattr(p, name)(text, 0), getattr(r, name)(text, 0)
        assert (mine and mine.span()) == (theirs and theirs.span())
    assert [m.span() for m in p.finditer(text)] == [m.span() for m in r.finditer(text)]
    assert p.findall(text) == r.findall(text)
    assert p.split(text) == r.split(text)
    assert p.sub(r"\2=\1", text) == r.sub(r"\2=\1", text)
    assert p.subn(lambda m: m.group(1).upper(), text, 1) == r.subn(
        lambda m: m.group(1).upper(), text, 1
    )
    assert p.search(text, 5, 9) is not None and p.match(text, 4) is None
