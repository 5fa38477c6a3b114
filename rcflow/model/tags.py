"""Our tags by version, at a cost that does not grow with the releases behind them.

A project ten years old has thousands of finals and their RCs; a command reads the newest final
and what is above it. `TagVersions` reads the tags all at once, joined one a line, in C: the
finals split the text (`re.split`), the pre-releases are found in what is left (`findall`), and
every base's numbers come from one JSON parse. A Python loop over 10,000 tags (a match, three
`int()` and two inserts each) was most of `status` after 5,000 releases. A `Version` is built
only for a tag that is read; pre-releases are grouped by base only when the index is iterated.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Set
from itertools import chain

from rcflow.errors import VersionError
from rcflow.model.config import Config, parse_stage_tag
from rcflow.model.version import Version, parse_tag

Base = tuple[int, int, int]

# The grammar of `version._tag_pattern`: ASCII digits only, no leading zeros, rc numbers >= 1.
_N = "(?:0|[1-9][0-9]*)"


@functools.lru_cache(maxsize=64)
def _pattern(prefix: str, tokens: tuple[str, ...], kind: str) -> re.Pattern[str]:
    """One of our tags, or (over tags one a line, "\\n" before and after each) a line of one.

    A line is found by its leading "\\n", a literal searched for: `^` in MULTILINE mode tries
    the pattern at every character. Each compiled when first used (a quarter of a millisecond).
    """
    p, n = re.escape(prefix), rf"({_N}\.{_N}\.{_N})"
    rc = rf"-(?:{'|'.join(map(re.escape, tokens))})\.[1-9][0-9]*"
    return re.compile(
        {
            "tag": rf"{p}{_N}\.{_N}\.{_N}(?:{rc})?",  # a final or a pre-release at any stage
            "final": rf"\n{p}{n}(?=\n)",  # a final's numbers ("1.2.3")
            "pre": rf"\n{p}{n}{rc}(?=\n)",  # a pre-release's numbers
            "pre_tag": rf"\n({p}{n}{rc})(?=\n)",  # a pre-release: (its tag, its numbers)
        }[kind]
    )


def _numbers(parts: Iterable[str]) -> dict[str, Base]:
    """{"1.2.3": (1, 2, 3)}: one JSON parse for all of them, a third of the cost of `int()`."""
    parts = list(parts)
    if not parts:
        return {}
    numbers = iter(json.loads(f"[{','.join(parts).replace('.', ',')}]"))
    return dict(zip(parts, zip(numbers, numbers, numbers, strict=True), strict=True))


def _part(base: Base) -> str:
    return ".".join(map(str, base))


class TagVersions(Mapping[str, Version]):
    """{tag: its version} for our tags among `names`; versions built when read, once.

    `names` is not copied when every one is ours: a set or mapping not changed afterwards.
    """

    def __init__(self, names: Collection[str], config: Config) -> None:
        self._config = config
        prefix = config.tag_prefix
        # Validates the rc token as parse_tag does (a configuration error, never a foreign tag).
        parse_tag("", tag_prefix=prefix, rc_token=config.rc_token)
        tokens = (config.rc_token, *(s.token for s in config.stages[:-1]))
        if "\n" in prefix + "".join(tokens):  # load_config refuses them: no tag has one
            raise VersionError(f"not a usable tag prefix or token: {(prefix, *tokens)!r}")
        self._pattern = functools.partial(_pattern, prefix, tokens)
        text = "\n" + "\n".join(names) + "\n"
        if text.count("\n") != len(names) + 1:  # a name with a newline in it: not one of ours
            text = "\n" + "\n".join(filter(self._pattern("tag").fullmatch, names)) + "\n"
        # The finals split the text: the pre-releases are looked for in what is left, the
        # other half of it (kept, for `pre_releases`).
        pieces = self._pattern("final").split(text)
        final_parts: list[str] = pieces[1::2]
        self._text = "".join(pieces[::2])
        pre_parts: list[str] = self._pattern("pre").findall(self._text)
        # Each base converted once: a final's tuple is its RCs' too.
        bases = _numbers(final_parts)
        self._finals = dict(zip(bases.values(), map(prefix.__add__, bases), strict=True))
        self._pre_parts = dict.fromkeys(pre_parts)  # {"1.2.3": None}, in order
        bases.update(_numbers(self._pre_parts.keys() - bases.keys()))
        self._pre_bases = tuple(map(bases.__getitem__, self._pre_parts))
        # {"1.2.3": its pre-releases' tags}: grouped when first iterated, or given (`of`).
        self._pre: dict[str, list[str]] | None = None
        # Every name ours (observe's usual case): the names are the set, not a copy of them.
        self._ours: Collection[str] | None = None
        if len(final_parts) + len(pre_parts) == len(names) and isinstance(names, (Set, Mapping)):
            self._ours = names
        self._built: dict[str, Version | None] = {}

    @classmethod
    def of(cls, versions: Mapping[str, Version], config: Config) -> TagVersions:
        """The index of versions parsed already (a snapshot built without observe)."""
        index = cls((), config)
        index._pre = {}
        bases: list[Base] = []
        for name, v in versions.items():
            base = (v.major, v.minor, v.patch)
            if v.rc is None:
                index._finals[base] = name
            elif _part(base) in index._pre:
                index._pre[_part(base)].append(name)
            else:
                index._pre[_part(base)] = [name]
                bases.append(base)
        index._pre_bases = tuple(bases)
        index._ours = set(versions)
        index._built.update(versions)
        return index

    @property
    def finals(self) -> Mapping[Base, str]:
        """{(major, minor, patch): tag} of every final among the tags; no Version built."""
        return self._finals

    def pre_releases(self, base: Base) -> list[str]:
        """The tags of `base`'s pre-releases, every stage, in the order given."""
        part = _part(base)
        if self._pre is not None:
            return self._pre.get(part, [])
        if part not in self._pre_parts:
            return []
        # Asked for a base or two (the release in flight): a literal search, no grouping of all.
        start = re.escape(f"{self._config.tag_prefix}{part}-")
        lines = re.findall(rf"\n({start}[^\n]*)", self._text)
        return [name for name in lines if self._pattern("tag").fullmatch(name)]

    def pre_release_bases(self) -> Iterable[Base]:
        return self._pre_bases

    def _grouped(self) -> dict[str, list[str]]:
        """{"1.2.3": its pre-releases' tags}, in the order given."""
        if self._pre is None:
            self._pre = {}
            for name, part in self._pattern("pre_tag").findall(self._text):
                self._pre.setdefault(part, []).append(name)
        return self._pre

    def names(self) -> Collection[str]:
        """Our tags, a set to look names up in (`in` on the index is a method call each)."""
        if self._ours is None:
            self._ours = {*self._finals.values(), *chain.from_iterable(self._grouped().values())}
        return self._ours

    def get_version(self, name: str) -> Version | None:
        if name not in self.names():
            return None
        try:
            return self._built[name]
        except KeyError:
            found = self._built[name] = parse_stage_tag(name, self._config)
            return found

    def __getitem__(self, name: str) -> Version:
        found = self.get_version(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[str]:
        yield from self._finals.values()
        for names in self._grouped().values():
            yield from names

    def __len__(self) -> int:
        return len(self.names())
