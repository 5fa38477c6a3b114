"""Extract the subset of GitHub's OpenAPI description that rcflow's test server serves.

Obtains the npm package `@octokit/openapi` (GitHub's own REST description, bundled by Octokit)
with `npm pack`, reads `generated/api.github.com.json`, and writes only the operations listed
in OPERATIONS plus every `#/components/...` object they reference, transitively (schemas,
parameters, responses, headers, examples). The output is deterministic: sorted keys, indent 1.

    python tools/extract_github_openapi.py            # → tests/ghserver/openapi_subset.json
    python tools/extract_github_openapi.py --spec F   # from an already unpacked description
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@octokit/openapi"
VERSION = "23.0.2"
SPEC_IN_PACKAGE = "package/generated/api.github.com.json"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "ghserver" / "openapi_subset.json"

OPERATIONS = (
    # phase 1: repository, releases, assets, rulesets, issues, identity, rate limit
    "repos/get",
    "repos/list-releases",
    "repos/create-release",
    "repos/get-release",
    "repos/update-release",
    "repos/delete-release",
    "repos/get-release-by-tag",
    "repos/get-latest-release",
    "repos/list-release-assets",
    "repos/upload-release-asset",
    "repos/get-release-asset",
    "repos/delete-release-asset",
    "repos/get-repo-rulesets",
    "repos/get-repo-ruleset",
    "repos/check-immutable-releases",
    "issues/list-for-repo",
    "issues/create",
    "issues/update",
    "issues/create-comment",
    "users/get-authenticated",
    "rate-limit/get",
    # phase 2: workflow dispatch and runs, checks and commit statuses
    "actions/create-workflow-dispatch",
    "actions/list-workflow-runs",
    "actions/list-workflow-runs-for-repo",
    "actions/get-workflow-run",
    "actions/cancel-workflow-run",
    "actions/get-workflow",
    "checks/list-for-ref",
    "repos/get-combined-status-for-ref",
    "repos/list-commit-statuses-for-ref",
    # deployments (issue 15): deployment evidence as a validation
    "repos/list-deployments",
    "repos/create-deployment",
    "repos/get-deployment",
    "repos/list-deployment-statuses",
    "repos/create-deployment-status",
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def fetch_spec(workdir: Path) -> Path:
    """`npm pack` the package into workdir and unpack it; return the description's path."""
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        member = tar.getmember(SPEC_IN_PACKAGE)
        tar.extractall(workdir, members=[member], filter="data")
    return workdir / SPEC_IN_PACKAGE


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"external reference not supported: {ref}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def extract(spec: dict[str, Any], operations: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """Return (subset, missing operationIds)."""
    wanted = set(operations)
    paths: dict[str, Any] = {}
    seen_ops: set[str] = set()
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict) and op.get("operationId") in wanted:
                entry = paths.setdefault(
                    path, {k: v for k, v in item.items() if k not in HTTP_METHODS}
                )
                entry[method] = op
                seen_ops.add(op["operationId"])
    missing = [op for op in operations if op not in seen_ops]

    components: dict[str, dict[str, Any]] = {}
    pending = _refs(paths)
    done: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in done:
            continue
        done.add(ref)
        parts = ref[2:].split("/")
        if len(parts) != 3 or parts[0] != "components":
            raise ValueError(f"unexpected reference: {ref}")
        target = _resolve(spec, ref)
        components.setdefault(parts[1], {})[parts[2]] = target
        pending |= _refs(target) - done

    used_tags = {
        t for item in paths.values() for m in HTTP_METHODS for t in item.get(m, {}).get("tags", [])
    }
    subset: dict[str, Any] = {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "externalDocs": spec.get("externalDocs"),
        "tags": [t for t in spec.get("tags", []) if t.get("name") in used_tags],
        "paths": paths,
        "components": components,
    }
    if subset["externalDocs"] is None:
        del subset["externalDocs"]
    return subset, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, help="use this api.github.com.json instead of npm")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        source = args.spec or fetch_spec(Path(tmp))
        spec = json.loads(source.read_text(encoding="utf-8"))
    subset, missing = extract(spec, OPERATIONS)
    for op in missing:
        sys.stderr.write(f"warning: operationId {op} not in {PACKAGE}@{VERSION}; skipped\n")
    text = json.dumps(subset, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    n_ops = len(OPERATIONS) - len(missing)
    n_comp = sum(len(v) for v in subset["components"].values())
    sys.stdout.write(
        f"wrote {args.out}: {n_ops} operations, {n_comp} components, {len(text)} bytes\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
