from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcflow.errors import VersionFileError
from rcflow.model.version_text import VersionFileKind, VersionRef, detect_kind, read_refs, update

K = VersionFileKind


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("pyproject.toml", K.PYPROJECT),
        ("sub/pyproject.toml", K.PYPROJECT),
        ("package.json", K.PACKAGE_JSON),
        ("crates/a/Cargo.toml", K.CARGO),
        ("charts/app/Chart.yaml", K.HELM_CHART),
        ("Chart.yml", K.HELM_CHART),
        ("src/pkg/__init__.py", K.PYTHON),
        ("version.txt", None),
        ("cargo.toml", None),
        ("deploy/kustomization.yaml", None),
    ],
)
def test_detect_kind(path: str, kind: VersionFileKind | None) -> None:
    assert detect_kind(path) == kind


# --- pyproject.toml -------------------------------------------------------------------------------

PEP621 = """\
# Project metadata
[project]
name = "demo"
version = '1.4.0rc1'   # bumped by rcflow
dependencies = ["requests>=2.0", "other (==1.0.0)"]

[project.optional-dependencies]
dev = ["pytest"]

[tool.other]
version = "1.4.0rc1"
"""


def test_pyproject_pep621_read() -> None:
    assert read_refs(K.PYPROJECT, "pyproject.toml", PEP621) == [
        VersionRef("[project].version", 4, "1.4.0rc1")
    ]


def test_pyproject_pep621_update_keeps_quotes_comment_and_other_tables() -> None:
    new = update(K.PYPROJECT, "pyproject.toml", PEP621, {"[project].version": "1.4.0"})
    assert new == PEP621.replace("version = '1.4.0rc1'", "version = '1.4.0'")
    assert 'version = "1.4.0rc1"' in new  # [tool.other] untouched


POETRY = """\
[tool.poetry]
name = "demo"
version = "0.9.0"
description = "x"

[tool.poetry.dependencies]
python = "^3.11"
requests = { version = "0.9.0", optional = true }
"""


def test_pyproject_poetry_read_and_update() -> None:
    assert read_refs(K.PYPROJECT, "pyproject.toml", POETRY) == [
        VersionRef("[tool.poetry].version", 3, "0.9.0")
    ]
    new = update(K.PYPROJECT, "pyproject.toml", POETRY, {"[tool.poetry].version": "1.0.0"})
    assert new == POETRY.replace('version = "0.9.0"\n', 'version = "1.0.0"\n', 1)
    assert 'requests = { version = "0.9.0", optional = true }' in new


def test_pyproject_with_both_pep621_and_poetry() -> None:
    text = '[tool.poetry]\nversion = "2.0.0"\n\n[project]\nname = "x"\nversion = "2.0.0"\n'
    assert read_refs(K.PYPROJECT, "pyproject.toml", text) == [
        VersionRef("[tool.poetry].version", 2, "2.0.0"),
        VersionRef("[project].version", 6, "2.0.0"),
    ]
    new = update(
        K.PYPROJECT,
        "pyproject.toml",
        text,
        {"[project].version": "2.1.0", "[tool.poetry].version": "2.1.0rc1"},
    )
    assert (
        new == '[tool.poetry]\nversion = "2.1.0rc1"\n\n[project]\nname = "x"\nversion = "2.1.0"\n'
    )


def test_pyproject_dotted_key_and_out_of_order_tables() -> None:
    text = '[tool.a]\nx = 1\n\n[project]\nversion = "1.0"\n\n[tool]\npoetry.version = "1.0"\n'
    refs = read_refs(K.PYPROJECT, "pyproject.toml", text)
    assert refs == [
        VersionRef("[project].version", 5, "1.0"),
        VersionRef("[tool.poetry].version", 8, "1.0"),
    ]
    new = update(K.PYPROJECT, "pyproject.toml", text, {"[tool.poetry].version": "1.1"})
    assert new == text.replace('poetry.version = "1.0"', 'poetry.version = "1.1"')


def test_pyproject_dynamic_version_is_an_error() -> None:
    text = '[project]\nname = "x"\ndynamic = ["version"]\n'
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PYPROJECT, "pyproject.toml", text)
    assert err.value.message == (
        "pyproject.toml: the version is dynamic; "
        "configure the file that holds it as a [[version_file]]"
    )


def test_pyproject_dynamic_with_poetry_version_reads_poetry() -> None:
    text = '[project]\nname = "x"\ndynamic = ["version"]\n[tool.poetry]\nversion = "3.0.0"\n'
    assert read_refs(K.PYPROJECT, "pyproject.toml", text) == [
        VersionRef("[tool.poetry].version", 5, "3.0.0")
    ]


def test_pyproject_without_version() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(
            K.PYPROJECT, "pyproject.toml", '[project]\nname = "x"\n[tool.other]\nversion="1"\n'
        )
    assert err.value.message == (
        "pyproject.toml: no version found ([project].version or [tool.poetry].version)"
    )


def test_pyproject_invalid_toml() -> None:
    with pytest.raises(VersionFileError, match=r"^pyproject.toml: not valid TOML: "):
        read_refs(K.PYPROJECT, "pyproject.toml", "[project\nversion = 1\n")


def test_pyproject_non_string_version() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PYPROJECT, "pyproject.toml", "[project]\nversion = 1\n")
    assert err.value.message == "pyproject.toml: [project].version is not a string"


def test_pyproject_crlf_kept() -> None:
    text = '[project]\r\nname = "x"\r\nversion = "1.0.0"  # c\r\n\r\n[tool.x]\r\ny = 1\r\n'
    assert read_refs(K.PYPROJECT, "pyproject.toml", text) == [
        VersionRef("[project].version", 3, "1.0.0")
    ]
    new = update(K.PYPROJECT, "pyproject.toml", text, {"[project].version": "1.1.0rc1"})
    assert (
        new == '[project]\r\nname = "x"\r\nversion = "1.1.0rc1"  # c\r\n\r\n[tool.x]\r\ny = 1\r\n'
    )


def test_pyproject_multiline_string_refused() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PYPROJECT, "pyproject.toml", '[project]\nversion = """1.0"""\n')
    assert err.value.message == (
        "pyproject.toml: [project].version is a multi-line string; use a one-line string"
    )


# --- Cargo.toml -----------------------------------------------------------------------------------

CARGO = """\
[package]
name = "demo"
version = "0.3.0-rc.2" # keep in sync
edition = "2021"

[dependencies]
serde = { version = "0.3.0-rc.2", features = ["derive"] }

[dependencies.other]
version = "0.3.0-rc.2"
"""


def test_cargo_read_and_update() -> None:
    assert read_refs(K.CARGO, "Cargo.toml", CARGO) == [
        VersionRef("[package].version", 3, "0.3.0-rc.2")
    ]
    new = update(K.CARGO, "Cargo.toml", CARGO, {"[package].version": "0.3.0"})
    assert new == CARGO.replace('version = "0.3.0-rc.2" # keep', 'version = "0.3.0" # keep')
    assert new.count('"0.3.0-rc.2"') == 2


def test_cargo_workspace_package() -> None:
    text = '[workspace]\nmembers = ["a"]\n\n[workspace.package]\nversion = "1.2.3"\n'
    assert read_refs(K.CARGO, "Cargo.toml", text) == [
        VersionRef("[workspace.package].version", 5, "1.2.3")
    ]
    assert update(K.CARGO, "Cargo.toml", text, {"[workspace.package].version": "1.3.0"}) == (
        text.replace("1.2.3", "1.3.0")
    )


def test_cargo_member_inheriting_from_workspace_is_an_error() -> None:
    text = '[package]\nname = "a"\nversion.workspace = true\n'
    with pytest.raises(VersionFileError) as err:
        read_refs(K.CARGO, "crates/a/Cargo.toml", text)
    assert err.value.message == (
        "crates/a/Cargo.toml: [package].version is inherited (version.workspace = true); "
        "configure the workspace root's Cargo.toml instead"
    )


def test_cargo_root_inheriting_package_reads_workspace_version() -> None:
    text = (
        '[package]\nname = "a"\nversion.workspace = true\n[workspace.package]\nversion = "4.0.0"\n'
    )
    assert read_refs(K.CARGO, "Cargo.toml", text) == [
        VersionRef("[workspace.package].version", 5, "4.0.0")
    ]


def test_cargo_without_version() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(K.CARGO, "Cargo.toml", '[package]\nname = "a"\n')
    assert err.value.message == (
        "Cargo.toml: no version found ([package].version or [workspace.package].version)"
    )


# --- package.json ---------------------------------------------------------------------------------

PACKAGE_JSON = """\
{
  "name": "demo",
  "dependencies": {
    "version": "1.0.0",
    "left-pad": "1.0.0"
  },
  "engines": [{"version": "1.0.0"}],
  "description": "version \\"1.0.0\\", \\"version\\": \\"1.0.0\\"",
  "version": "1.0.0",
  "private": true
}
"""


def test_package_json_read_and_update_only_top_level() -> None:
    assert read_refs(K.PACKAGE_JSON, "package.json", PACKAGE_JSON) == [
        VersionRef("version", 9, "1.0.0")
    ]
    new = update(K.PACKAGE_JSON, "package.json", PACKAGE_JSON, {"version": "1.1.0-rc.1"})
    assert new == PACKAGE_JSON.replace(
        '  "version": "1.0.0",\n  "private"', '  "version": "1.1.0-rc.1",\n  "private"'
    )
    assert new.count("1.0.0") == PACKAGE_JSON.count("1.0.0") - 1


def test_package_json_crlf_and_compact() -> None:
    text = '{"name":"x","version":"2.0.0","nested":{"version":"9"}}\r\n'
    assert read_refs(K.PACKAGE_JSON, "package.json", text) == [VersionRef("version", 1, "2.0.0")]
    assert update(K.PACKAGE_JSON, "package.json", text, {"version": "2.0.1"}) == (
        '{"name":"x","version":"2.0.1","nested":{"version":"9"}}\r\n'
    )


def test_package_json_without_version() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PACKAGE_JSON, "package.json", '{"name": "x", "a": {"version": "1"}}')
    assert err.value.message == 'package.json: no version found (top-level "version")'


def test_package_json_invalid() -> None:
    with pytest.raises(VersionFileError, match=r"^package.json: not valid JSON: "):
        read_refs(K.PACKAGE_JSON, "package.json", '{"version": "1",}')


# --- Python __version__ ---------------------------------------------------------------------------

PYTHON = '''\
"""Demo package.

__version__ = "0.0.0" in a docstring is not the version.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = '2.1.0rc3'  # single quotes on purpose


class Legacy:
    __version__ = "0.1"


def f() -> None:
    __version__ = "0.2"
'''


def test_python_read_and_update_module_level_only() -> None:
    assert read_refs(K.PYTHON, "src/demo/__init__.py", PYTHON) == [
        VersionRef("__version__", 9, "2.1.0rc3")
    ]
    new = update(K.PYTHON, "src/demo/__init__.py", PYTHON, {"__version__": "2.1.0"})
    assert new == PYTHON.replace("__version__ = '2.1.0rc3'", "__version__ = '2.1.0'")


def test_python_annotated_and_crlf() -> None:
    text = 'import x\r\n\r\n__version__: str = "1.0.0"\r\nVERSION = __version__\r\n'
    assert read_refs(K.PYTHON, "v.py", text) == [VersionRef("__version__", 3, "1.0.0")]
    assert update(K.PYTHON, "v.py", text, {"__version__": "1.0.1"}) == (
        'import x\r\n\r\n__version__: str = "1.0.1"\r\nVERSION = __version__\r\n'
    )


def test_python_newer_syntax_still_readable() -> None:
    # PEP 695 syntax is newer than the interpreter rcflow may run on; tokenizing still works.
    text = 'type Alias[T] = list[T]\n__version__ = "0.5.0"\n'
    assert read_refs(K.PYTHON, "v.py", text) == [VersionRef("__version__", 2, "0.5.0")]


def test_python_without_version() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PYTHON, "v.py", "__version__ = get_version()\n")
    assert err.value.message == 'v.py: no version found (module-level __version__ = "...")'


# --- Helm Chart.yaml ------------------------------------------------------------------------------

CHART = """\
apiVersion: v2
name: demo
# the chart's own version
version: 1.4.0-rc.1   # chart
appVersion: "v1.4.0-rc.1"
dependencies:
  - name: redis
    version: 1.4.0-rc.1
description: |
  version: 1.4.0-rc.1 is just text here
"""


def test_chart_read_and_update_quoted_app_version() -> None:
    assert read_refs(K.HELM_CHART, "Chart.yaml", CHART) == [
        VersionRef("version", 4, "1.4.0-rc.1"),
        VersionRef("appVersion", 5, "v1.4.0-rc.1"),
    ]
    new = update(K.HELM_CHART, "Chart.yaml", CHART, {"version": "1.4.0", "appVersion": "v1.4.0"})
    assert new == CHART.replace(
        'version: 1.4.0-rc.1   # chart\nappVersion: "v1.4.0-rc.1"',
        'version: 1.4.0   # chart\nappVersion: "v1.4.0"',
    )


def test_chart_unquoted_app_version_and_single_quotes() -> None:
    text = "name: x\r\nversion: '0.1.0'\r\nappVersion: 2.0.0\r\n"
    assert read_refs(K.HELM_CHART, "Chart.yaml", text) == [
        VersionRef("version", 2, "0.1.0"),
        VersionRef("appVersion", 3, "2.0.0"),
    ]
    assert update(K.HELM_CHART, "Chart.yaml", text, {"appVersion": "2.1.0"}) == (
        "name: x\r\nversion: '0.1.0'\r\nappVersion: 2.1.0\r\n"
    )


def test_chart_without_app_version_and_missing_key() -> None:
    text = "name: x\nversion: 0.1.0\n"
    assert read_refs(K.HELM_CHART, "Chart.yaml", text) == [VersionRef("version", 2, "0.1.0")]
    with pytest.raises(VersionFileError) as err:
        update(K.HELM_CHART, "Chart.yaml", text, {"appVersion": "1.0.0"})
    assert err.value.message == "Chart.yaml: no appVersion to update (found: version)"


def test_chart_without_version() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(K.HELM_CHART, "Chart.yaml", "name: x\nappVersion: 1.0.0\n")
    assert err.value.message == "Chart.yaml: no version found (top-level version:)"


# --- generic pattern ------------------------------------------------------------------------------

MANIFEST = """\
spec:
  containers:
    - image: registry.example/api:v1.4.0-rc.1
    - image: registry.example/worker:v1.4.0-rc.1
    - image: registry.example/redis:7.2
"""
# `$` matches before "\n" only, so a pattern meant for CRLF files too allows the "\r".
IMAGE = r"image: registry\.example/(?:api|worker):(?P<version>v[0-9][^\s]*)\r?$"


def test_pattern_several_matches() -> None:
    assert read_refs(K.PATTERN, "deploy.yaml", MANIFEST, IMAGE) == [
        VersionRef("pattern", 3, "v1.4.0-rc.1"),
        VersionRef("pattern#2", 4, "v1.4.0-rc.1"),
    ]
    new = update(
        K.PATTERN,
        "deploy.yaml",
        MANIFEST,
        {"pattern": "v1.4.0-rc.2", "pattern#2": "v1.4.0-rc.2"},
        IMAGE,
    )
    assert new == MANIFEST.replace("v1.4.0-rc.1", "v1.4.0-rc.2")
    only_second = update(K.PATTERN, "deploy.yaml", MANIFEST, {"pattern#2": "v1.5.0"}, IMAGE)
    assert only_second == MANIFEST.replace("worker:v1.4.0-rc.1", "worker:v1.5.0")


def test_pattern_that_cannot_read_back_its_output() -> None:
    narrow = r"VERSION=(?P<version>\d+\.\d+\.\d+)$"
    with pytest.raises(VersionFileError) as err:
        update(K.PATTERN, "Makefile", "VERSION=1.0.0\n", {"pattern": "1.1.0-rc.1"}, narrow)
    assert err.value.message == (
        "Makefile: pattern would not be found after writing '1.1.0-rc.1'; widen the pattern"
    )


def test_pattern_that_reads_back_something_else() -> None:
    narrow = r"VERSION=(?P<version>\d+\.\d+\.\d+)"
    with pytest.raises(VersionFileError) as err:
        update(K.PATTERN, "Makefile", "VERSION=1.0.0\n", {"pattern": "1.1.0-rc.1"}, narrow)
    assert err.value.message == (
        "Makefile: pattern would read back as '1.1.0' after writing '1.1.0-rc.1'; widen the pattern"
    )


def test_pattern_no_match_and_no_group() -> None:
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PATTERN, "v.txt", "nothing\n", r"v(?P<version>\d+)")
    assert (
        err.value.message
        == "v.txt: no version found (pattern 'v(?P<version>\\\\d+)' matches nothing)"
    )
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PATTERN, "v.txt", "v1\n", r"v(\d+)")
    assert err.value.message == "v.txt: the pattern has no (?P<version>...) group"
    with pytest.raises(VersionFileError) as err:
        read_refs(K.PATTERN, "v.txt", "v1\n")
    assert err.value.message == "v.txt: kind 'pattern' needs a pattern"


# --- update in general ----------------------------------------------------------------------------


def test_update_unknown_key() -> None:
    with pytest.raises(VersionFileError) as err:
        update(K.PYPROJECT, "pyproject.toml", PEP621, {"[tool.poetry].version": "1.0.0"})
    assert err.value.message == (
        "pyproject.toml: no [tool.poetry].version to update (found: [project].version)"
    )


def test_update_same_value_is_identity() -> None:
    assert update(K.PYPROJECT, "pyproject.toml", PEP621, {"[project].version": "1.4.0rc1"}) is (
        PEP621
    )
    assert update(K.HELM_CHART, "Chart.yaml", CHART, {}) is CHART


@pytest.mark.parametrize("value", ["", "1.0.0\nx", '1.0"', "1.0 # c", "-1.0"])
def test_update_refuses_values_that_need_quoting(value: str) -> None:
    with pytest.raises(VersionFileError) as err:
        update(K.PACKAGE_JSON, "package.json", PACKAGE_JSON, {"version": value})
    assert err.value.message == f"package.json: version: refusing to write {value!r}, not a version"


# --- properties -----------------------------------------------------------------------------------

versions = st.from_regex(r"v?[0-9]{1,3}(\.[0-9]{1,3}){2}((-rc\.|rc)[0-9]{1,2})?", fullmatch=True)

CASES: list[tuple[VersionFileKind, str, str, str | None]] = [
    (K.PYPROJECT, "pyproject.toml", PEP621, None),
    (K.PYPROJECT, "pyproject.toml", POETRY, None),
    (K.CARGO, "Cargo.toml", CARGO, None),
    (K.PACKAGE_JSON, "package.json", PACKAGE_JSON, None),
    (K.PYTHON, "v.py", PYTHON, None),
    (K.HELM_CHART, "Chart.yaml", CHART, None),
    (K.PATTERN, "deploy.yaml", MANIFEST, IMAGE),
]


@given(case=st.sampled_from(CASES), data=st.data())
def test_update_round_trip_touches_only_the_value(
    case: tuple[VersionFileKind, str, str, str | None], data: st.DataObject
) -> None:
    kind, path, text, pattern = case
    for crlf in (False, True):
        content = text.replace("\n", "\r\n") if crlf else text
        refs = read_refs(kind, path, content, pattern)
        new_values = {
            ref.key: data.draw(
                versions.filter(lambda v: kind is not K.PATTERN or v.startswith("v"))
            )
            for ref in refs
        }
        new = update(kind, path, content, new_values, pattern)
        reread = read_refs(kind, path, new, pattern)
        assert [(r.key, r.line, r.value) for r in reread] == [
            (r.key, r.line, new_values[r.key]) for r in refs
        ]
        changed = {r.line for r in refs}
        old_lines, new_lines = content.split("\n"), new.split("\n")
        assert len(old_lines) == len(new_lines)
        for number, (old, line) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
            if number not in changed:
                assert line == old
            else:
                assert line.endswith("\r") == crlf
        # Writing the old values back restores the original byte for byte.
        assert update(kind, path, new, {r.key: r.value for r in refs}, pattern) == content


# -- the plain-layout fast path agrees with tomlkit, or steps aside --------------------------

PYPROJECTS = [
    '[project]\nname = "x"\nversion = "1.3.0"\n',
    "[project]\r\nname = \"x\"\r\nversion = '1.3.0'  # bumped by rcflow\r\n",
    '[build-system]\nrequires = []\n[project]\nversion="1.3.0"\n[project.urls]\nversion = "x"\n',
    '[tool.poetry]\nname = "x"\nversion = "0.9.0"\n[project]\nname = "x"\nversion = "0.9.0"\n',
    '[project]\nname = "x"\nversion = "1.3.0"\n[[tool.pkgs]]\nversion = "1.3.0"\n',
    'project.version = "1.3.0"\nproject.name = "x"\n',
    '[project]\nname = "x"\ndescription = """\n[project]\nversion = "9.9.9"\n"""\n'
    'version = "1.3.0"\n',
    '[ project ]\nversion = "1.3.0"\n',
    '[project]\nversion = "1.3.0"\n[project]\n',
    '[project]\nversion = "1.\\u0033.0"\n',
    '[project]\nname = "x"\ndynamic = ["version"]\n',
    "[project\nversion = 1\n",
    '[[project]]\nversion = "1.3.0"\n',  # an array of tables, not the [project] table
]


@pytest.mark.parametrize("content", PYPROJECTS)
def test_the_plain_toml_path_agrees_with_tomlkit(
    content: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcflow.model import version_text as versionfiles

    def outcome() -> object:
        try:
            return read_refs(VersionFileKind.PYPROJECT, "pyproject.toml", content)
        except VersionFileError as exc:
            return exc.message

    fast = outcome()
    monkeypatch.setattr(versionfiles, "_plain_toml_spans", lambda content, wanted: None)
    assert fast == outcome()


@given(
    st.lists(
        st.sampled_from(
            ["[project]", "[tool.poetry]", "[[x]]", "[project.urls]", "# c", "[[project]]", "[ a ]"]
        ),
        max_size=8,
    ),
    st.lists(
        st.sampled_from(
            ['version = "1.3.0"', "version = '2.0.0rc1'", 'name = "v"', "version = 3", "x = 1"]
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_the_plain_toml_path_never_disagrees(headers: list[str], lines: list[str]) -> None:
    from rcflow.model import version_text as versionfiles

    content = "".join(f"{h}\n" + "\n".join(lines) + "\n" for h in headers)
    wanted = [(("project",), "[project].version"), (("tool", "poetry"), "[tool.poetry].version")]
    fast = versionfiles._plain_toml_spans(content, wanted)
    if fast is None:
        return
    slow = {}
    for keys, label in wanted:
        try:
            slow[label] = versionfiles._toml_span("p", content, keys, label).ref
        except VersionFileError:
            continue  # tomlkit cannot locate it (e.g. a split array of tables); the scan can
    for span in fast:
        if span.ref.key in slow:
            assert span.ref == slow[span.ref.key]
        assert content[span.start : span.end] == span.ref.value
