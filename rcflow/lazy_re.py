"""Regular expressions compiled when first used, not when their module is imported.

`rcflow status` imports the configuration, version and version-file modules, whose patterns
(some long, verbose ones) cost more to compile than the git commands behind a status take to
run (DESIGN §13); most of them check input that a status never reads. `lazy(pattern, flags)`
stands where `re.compile(pattern, flags)` stood and answers the same methods.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, AnyStr, Generic


class LazyPattern(Generic[AnyStr]):
    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: AnyStr, flags: int = 0) -> None:
        self._pattern: AnyStr = pattern
        self._flags = flags
        self._compiled: re.Pattern[AnyStr] | None = None

    @property
    def compiled(self) -> re.Pattern[AnyStr]:
        if self._compiled is None:
            self._compiled = re.compile(self._pattern, self._flags)
        return self._compiled

    @property
    def pattern(self) -> AnyStr:
        return self._pattern

    @property
    def flags(self) -> int:
        return self.compiled.flags

    @property
    def groupindex(self) -> Mapping[str, int]:
        return self.compiled.groupindex

    def match(
        self, string: AnyStr, pos: int = 0, endpos: int = 2**63 - 1
    ) -> re.Match[AnyStr] | None:
        return self.compiled.match(string, pos, endpos)

    def fullmatch(
        self, string: AnyStr, pos: int = 0, endpos: int = 2**63 - 1
    ) -> re.Match[AnyStr] | None:
        return self.compiled.fullmatch(string, pos, endpos)

    def search(
        self, string: AnyStr, pos: int = 0, endpos: int = 2**63 - 1
    ) -> re.Match[AnyStr] | None:
        return self.compiled.search(string, pos, endpos)

    def finditer(
        self, string: AnyStr, pos: int = 0, endpos: int = 2**63 - 1
    ) -> Iterator[re.Match[AnyStr]]:
        return self.compiled.finditer(string, pos, endpos)

    def findall(self, string: AnyStr, pos: int = 0, endpos: int = 2**63 - 1) -> list[Any]:
        return self.compiled.findall(string, pos, endpos)

    def split(self, string: AnyStr, maxsplit: int = 0) -> list[AnyStr | Any]:
        return self.compiled.split(string, maxsplit)

    def sub(
        self, repl: AnyStr | Callable[[re.Match[AnyStr]], AnyStr], string: AnyStr, count: int = 0
    ) -> AnyStr:
        return self.compiled.sub(repl, string, count)

    def subn(
        self, repl: AnyStr | Callable[[re.Match[AnyStr]], AnyStr], string: AnyStr, count: int = 0
    ) -> tuple[AnyStr, int]:
        return self.compiled.subn(repl, string, count)


def lazy(pattern: AnyStr, flags: int = 0) -> LazyPattern[AnyStr]:
    """`re.compile(pattern, flags)`, compiled on first use."""
    return LazyPattern(pattern, flags)
