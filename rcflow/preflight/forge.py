"""Forge preconditions: before `promote` changes anything, the bytes the final will carry are
proven to be on the forge — every file the RC's `SHA256SUMS` lists, at the digest it lists.

The plan already refuses an RC whose release is missing or unfinished (it knows from the
snapshot); this reads the one small file the snapshot does not hold. These findings cannot be
waived: carrying would fail after the final tag was pushed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from rcflow.errors import RcflowError
from rcflow.model.effects import CarryAssets, Effect
from rcflow.model.findings import Finding
from rcflow.ports.forge import CHECKSUMS, Forge, parse_checksums


def findings(effects: Iterable[Effect], forge: Forge) -> list[Finding]:
    carries = [e for e in effects if isinstance(e, CarryAssets)]
    if not carries:
        return []
    try:
        releases = forge.releases()
    except RcflowError as exc:
        return [Finding("forge.unreadable", "error", exc.message, exc.hint or "re-run", forge.name)]
    found: list[Finding] = []
    for e in carries:
        final, rc = releases.get(e.tag), releases.get(e.source)
        if (final is not None and not final.draft) or rc is None:
            continue  # published already, or refused by the plan with its fix
        fact = rc.asset(CHECKSUMS)
        if fact is None:
            continue  # an RC without assets: nothing to carry
        fix = (
            f"the bytes that were validated are gone: withdraw {e.source} with "
            f"`rcflow rollback {e.source}`, then cut a new RC with `rcflow rc`"
        )
        with tempfile.TemporaryDirectory(prefix="rcflow-preflight-") as scratch:
            path = Path(scratch) / CHECKSUMS
            try:
                digest = forge.download_asset(e.source, CHECKSUMS, path)
                sums = parse_checksums(path.read_text(encoding="utf-8"))
            except (RcflowError, OSError, ValueError) as exc:
                detail = exc.message if isinstance(exc, RcflowError) else str(exc)
                found.append(
                    Finding(
                        "forge.rc-checksums",
                        "error",
                        f"{e.source}'s {CHECKSUMS} cannot be read: {detail}",
                        fix,
                        e.source,
                    )
                )
                continue
        problems = []
        if fact.sha256 is not None and fact.sha256 != digest:
            problems.append(f"{CHECKSUMS} itself (sha256 {digest[:12]}…, the forge says another)")
        for name, expected in sorted(sums.items()):
            asset = rc.asset(name)
            if asset is None:
                problems.append(f"{name} (missing)")
            elif asset.sha256 is not None and asset.sha256 != expected:
                problems.append(f"{name} (sha256 {asset.sha256[:12]}…, listed {expected[:12]}…)")
        if problems:
            found.append(
                Finding(
                    "forge.rc-assets",
                    "error",
                    f"{e.source} on the {forge.name} forge does not hold what its {CHECKSUMS} "
                    f"lists: {', '.join(problems)}",
                    fix,
                    e.source,
                )
            )
    return found
