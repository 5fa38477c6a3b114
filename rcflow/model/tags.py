"""Our tags by version, at a cost that does not grow with the releases behind them.

A project ten years old has thousands of finals and their RCs; a command reads the newest final
and what is above it. `TagVersions` matches each tag once (the match `stage_tag_matcher` does,
keeping its numbers) and builds a `Version` only for a tag that is read: `parse_stage_tag` on
every tag was most of `status` after 5,000 releases.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from rcflow.model.config import Config, parse_stage_tag
from rcflow.model.version import Version, _tag_pattern, parse_tag

Base = tuple[int, int, int]


class TagVersions(Mapping[str, Version]):
    """{tag: its version} for our tags among `names`; versions built when read, once."""

    def __init__(self, names: Iterable[str], config: Config) -> None:
        self._config = config
        # Validates the rc token as parse_tag does (a configuration error, never a foreign tag).
        parse_tag("", tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        patterns = [_tag_pattern(config.tag_prefix, config.rc_token)]
        patterns += [_tag_pattern(config.tag_prefix, s.token) for s in config.stages[:-1]]
        finals: dict[Base, str] = {}
        pre: dict[Base, list[str]] = {}
        ours: set[str] = set()
        if len(patterns) == 1:  # no ladder: one match per tag, nothing else looked at
            match = patterns[0].fullmatch
            for name in names:
                m = match(name)
                if m is not None:
                    major, minor, patch, rc = m.groups()
                    if rc is None:
                        finals[(int(major), int(minor), int(patch))] = name
                    else:
                        pre.setdefault((int(major), int(minor), int(patch)), []).append(name)
                    ours.add(name)
            names = ()
        for name in names:
            for pattern in patterns:
                m = pattern.fullmatch(name)
                # A final is spelled the same at every stage: the rc token's pattern has it.
                if m is None or (m.group(4) is None and pattern is not patterns[0]):
                    continue
                major, minor, patch, rc = m.groups()
                base = (int(major), int(minor), int(patch))
                if rc is None:
                    finals[base] = name
                else:
                    pre.setdefault(base, []).append(name)
                ours.add(name)
                break
        self._finals = finals
        self._pre = pre
        self._ours = ours
        self._built: dict[str, Version | None] = {}

    @classmethod
    def of(cls, versions: Mapping[str, Version], config: Config) -> TagVersions:
        """The index of versions parsed already (a snapshot built without observe)."""
        index = cls((), config)
        for name, v in versions.items():
            base = (v.major, v.minor, v.patch)
            if v.rc is None:
                index._finals[base] = name
            else:
                index._pre.setdefault(base, []).append(name)
            index._ours.add(name)
            index._built[name] = v
        return index

    @property
    def finals(self) -> Mapping[Base, str]:
        """{(major, minor, patch): tag} of every final among the tags; no Version built."""
        return self._finals

    def pre_releases(self, base: Base) -> list[str]:
        """The tags of `base`'s pre-releases, every stage."""
        return self._pre.get(base, [])

    def pre_release_bases(self) -> Iterable[Base]:
        return self._pre.keys()

    def get_version(self, name: str) -> Version | None:
        if name not in self._ours:
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
        return name in self._ours

    def __iter__(self) -> Iterator[str]:
        yield from self._finals.values()
        for names in self._pre.values():
            yield from names

    def __len__(self) -> int:
        return len(self._ours)
