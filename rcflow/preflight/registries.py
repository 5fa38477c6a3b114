"""Artifact preflight: before the first tag is pushed, prove the planned image and package
effects can succeed — the RC image exists, the credentials may push to each repository and
upload to the index, and no final tag or file already holds other bytes.

The checks follow the plan: each effect that would touch a registry or an index is tried
read-only first (a blob upload started and cancelled proves push rights, an upload form without
a file proves upload rights). Every finding names the image or index in `where`, so
`--skip-check ID` waives it for that one only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rcflow.errors import BlockedError, ConflictError, RcflowError
from rcflow.model import registries as artifacts
from rcflow.model.effects import Effect, MoveImageTag, PromoteImage, PublishPackages, ResolveImage
from rcflow.model.findings import Finding

if TYPE_CHECKING:
    from rcflow.ports.registry import Registry

# (RC tag, scratch dir) -> the RC's SHA256SUMS, or None when it has none yet.
SumsReader = Callable[[str, Path], Mapping[str, str] | None]


def findings(
    effects: Iterable[Effect],
    *,
    sums: SumsReader,
    registry: artifacts.RegistryFactory,
    index: artifacts.IndexFactory,
) -> list[Finding]:
    """Every finding about the planned image and package effects (none when there are none).

    `sums` reads an RC's SHA256SUMS (the command layer's reader: staged here, else the forge's).
    """
    checker = _Checker(sums, registry, index)
    for effect in effects:
        if isinstance(effect, ResolveImage):
            checker.rc_image(effect)
        elif isinstance(effect, PromoteImage):
            checker.push(effect.image, effect.insecure, effect.digest)
            checker.final_tags(effect)
        elif isinstance(effect, MoveImageTag):
            checker.push(effect.image, effect.insecure, effect.digest)
        elif isinstance(effect, PublishPackages):
            checker.packages(effect)
    return checker.found


class _Checker:
    def __init__(
        self,
        sums: SumsReader,
        registry: artifacts.RegistryFactory,
        index: artifacts.IndexFactory,
    ) -> None:
        self.sums = sums
        self.registry = registry
        self.index = index
        self.found: list[Finding] = []
        self._pushed: set[str] = set()

    def _client(self, image: str, insecure: bool) -> tuple[Registry, str] | None:
        try:
            host, repository = artifacts.split_image(image)
            return self.registry(host, insecure), repository
        except RcflowError as exc:
            self._error("image.unreachable", image, exc)
            return None

    def _error(self, check: str, where: str, exc: RcflowError, fix: str | None = None) -> None:
        self.found.append(
            Finding(check, "error", exc.message, fix or exc.hint or "see the message", where)
        )

    def rc_image(self, e: ResolveImage) -> None:
        client = self._client(e.image, e.insecure)
        if client is None:
            return
        registry, repository = client
        try:
            manifest = registry.resolve(repository, e.tag)
        except BlockedError as exc:
            self._error("image.pull-denied", e.image, exc)
            return
        except RcflowError as exc:
            self._error("image.unreachable", e.image, exc)
            return
        if manifest is None and e.previous_final:
            self.found.append(
                Finding(
                    "image.previous-missing",
                    "error",
                    f"{e.image}:{e.tag} does not exist, so latest cannot go back to {e.release}",
                    f"push {e.image}:{e.tag} (the image of {e.release}), then re-run",
                    e.image,
                )
            )
        elif manifest is None:
            self.found.append(
                Finding(
                    "image.rc-missing",
                    "error",
                    f"the RC image {e.image}:{e.tag} does not exist",
                    f"build and push {e.image}:{e.tag} before `rcflow rc` records its digest",
                    e.image,
                )
            )

    def push(self, image: str, insecure: bool, digest: str) -> None:
        if image in self._pushed:
            return
        self._pushed.add(image)
        client = self._client(image, insecure)
        if client is None:
            return
        registry, repository = client
        try:
            registry.can_push(repository)
        except BlockedError as exc:
            self._error("image.push-denied", image, exc)
            return
        except RcflowError as exc:
            self._error("image.unreachable", image, exc)
            return
        if not digest:
            return  # resolved at apply time; its ResolveImage check proved the tag exists
        try:
            registry.fetch(repository, digest)
        except ConflictError as exc:
            self._error(
                "image.digest-missing",
                image,
                exc,
                "the recorded RC image was deleted from the registry: cut a new RC",
            )
        except RcflowError as exc:
            self._error("image.unreachable", image, exc)

    def final_tags(self, e: PromoteImage) -> None:
        client = self._client(e.image, e.insecure)
        if client is None:
            return
        registry, repository = client
        for tag in e.tags:
            if tag in e.movable:
                continue
            try:
                found = registry.resolve(repository, tag)
            except RcflowError:
                return  # reported by the push check
            if found is not None and found.digest != e.digest:
                self.found.append(
                    Finding(
                        "image.tag-conflict",
                        "error",
                        f"{e.image}:{tag} already exists at {found.digest}, not at {e.source}'s "
                        f"{e.digest}",
                        "a final tag is never moved: find out who pushed it; delete it only if "
                        "it is a mistake, then re-run",
                        e.image,
                    )
                )

    def packages(self, e: PublishPackages) -> None:
        host = urlsplit(e.index.upload_url).netloc
        try:
            index = self.index(e.index)
            index.can_upload()
        except BlockedError as exc:
            self._error("package.upload-denied", host, exc)
            return
        except RcflowError as exc:
            self._error("package.unreachable", host, exc)
            return
        with tempfile.TemporaryDirectory(prefix="rcflow-preflight-") as scratch:
            try:
                sums = self.sums(e.source, Path(scratch))
            except (RcflowError, OSError, ValueError):
                sums = None  # publishing reports it, with the files in hand
        if sums is None:
            return  # not built yet (rc builds them first): publishing checks before uploading
        wanted = {n: d for n, d in sums.items() if artifacts.selects(n, e.index.files, e.version)}
        projects = {artifacts.normalize(n.split(f"-{e.version}", 1)[0]) for n in wanted}
        listed: dict[str, str] = {}
        try:
            for project in sorted(projects):
                listed.update(index.files(project))
        except RcflowError as exc:
            self._error("package.unreachable", host, exc)
            return
        for name, digest in sorted(wanted.items()):
            held = listed.get(name)
            if held is not None and held != digest:
                self.found.append(
                    Finding(
                        "package.conflict",
                        "error",
                        f"the index already has {name} with sha256 {held}, not {e.source}'s "
                        f"{digest}",
                        "a published file is never replaced (nor re-cut as .postN): "
                        "release a new version",
                        host,
                    )
                )
