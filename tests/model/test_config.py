from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcflow.errors import ConfigError
from rcflow.model.config import (
    AssetsConfig,
    Config,
    HooksConfig,
    ValidationConfig,
    VersionFileConfig,
    load_config,
    parse_duration,
)
from rcflow.model.version import Spelling
from rcflow.model.version_text import VersionFileKind
from tests.support.config import config_error, write

K = VersionFileKind

PYPROJECT = '[project]\nname = "demo"\nversion = "1.0.0"\n'


# --- where the configuration comes from -----------------------------------------------------------


def test_defaults_without_any_file(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config(
        root=tmp_path,
        source="defaults",
        tag_prefix="v",
        rc_token="rc",
        branch=None,
        remote="origin",
        forge=None,  # chosen from the remote
        rc_in_files=False,
        changelog=None,
        lease_ttl=900.0,
        version_files=(),
        validations=(),
    )


def test_defaults_with_plain_pyproject_auto_detects_it(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    config = load_config(tmp_path)
    assert config.source == "defaults"
    assert config.version_files == (
        VersionFileConfig(path="pyproject.toml", kind=K.PYPROJECT, pattern=None, spelling=None),
    )


def test_rcflow_toml_full(tmp_path: Path) -> None:
    write(tmp_path, "src/demo/__init__.py", '__version__ = "1.0.0"\n')
    write(tmp_path, "deploy/app.yaml", "image: demo:v1.0.0\n")
    write(
        tmp_path,
        "rcflow.toml",
        """\
tag_prefix = "release-"
rc_token = "beta"
branch = "main"
remote = "upstream"
forge = "local"
rc_in_files = true
changelog = "./docs/CHANGELOG.md"
lease_ttl = "1h30m"

[[version_file]]
path = "src/demo/__init__.py"

[[version_file]]
path = "deploy/app.yaml"
pattern = 'image: demo:(?P<version>\\S+)'
spelling = "tag"

[[validate]]
name = "unit-tests"
run = "pytest -q"
timeout = "10m"

[[validate]]
name = "lint"
run = "ruff check ."
timeout = 45
required = false
""",
    )
    assert load_config(tmp_path) == Config(
        root=tmp_path,
        source="rcflow.toml",
        tag_prefix="release-",
        rc_token="beta",
        branch="main",
        remote="upstream",
        forge="local",
        rc_in_files=True,
        changelog="docs/CHANGELOG.md",
        lease_ttl=5400.0,
        version_files=(
            VersionFileConfig("src/demo/__init__.py", K.PYTHON, None, None),
            VersionFileConfig(
                "deploy/app.yaml", K.PATTERN, "image: demo:(?P<version>\\S+)", Spelling.TAG
            ),
        ),
        validations=(
            ValidationConfig("unit-tests", "pytest -q", 600.0, True),
            ValidationConfig("lint", "ruff check .", 45.0, False),
        ),
    )


def test_tool_rcflow_in_pyproject(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        PYPROJECT
        + '\n[tool.rcflow]\ntag_prefix = ""\n\n[[tool.rcflow.validate]]\nname = "t"\nrun = "x"\n',
    )
    config = load_config(tmp_path)
    assert config.source == "pyproject.toml [tool.rcflow]"
    assert config.tag_prefix == ""
    assert config.validations == (ValidationConfig("t", "x", 1800.0, True),)
    assert config.version_files == (VersionFileConfig("pyproject.toml", K.PYPROJECT, None, None),)


def test_both_places_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT + "[tool.rcflow]\nremote = 'a'\n")
    write(tmp_path, "rcflow.toml", "remote = 'b'\n")
    assert config_error(tmp_path) == (
        "both rcflow.toml and [tool.rcflow] in pyproject.toml; keep one"
    )


def test_rcflow_toml_wins_over_pyproject_without_tool_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT + "[tool.other]\nremote = 'a'\n")
    write(tmp_path, "rcflow.toml", "remote = 'b'\n")
    config = load_config(tmp_path)
    assert (config.source, config.remote) == ("rcflow.toml", "b")


# --- errors name the file and the key -------------------------------------------------------------


def test_unknown_key_in_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT + "[tool.rcflow]\ntag_prefx = 'v'\n")
    assert config_error(tmp_path) == "pyproject.toml: [tool.rcflow] unknown key 'tag_prefx'"


def test_unknown_key_in_rcflow_toml_tables(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", "[[validate]]\nname = 'a'\nrun = 'b'\ntimout = '1m'\n")
    assert config_error(tmp_path) == "rcflow.toml: unknown key 'validate[0].timout'"
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "rcflow.toml", "[[version_file]]\npath = 'pyproject.toml'\npatern = 'x'\n")
    assert config_error(tmp_path) == "rcflow.toml: unknown key 'version_file[0].patern'"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("rc_in_files = 'yes'", "rcflow.toml: rc_in_files: expected a boolean, got a string"),
        ("tag_prefix = true", "rcflow.toml: tag_prefix: expected a string, got a boolean"),
        ("remote = 1", "rcflow.toml: remote: expected a string, got an integer"),
        ("branch = ['main']", "rcflow.toml: branch: expected a string, got an array"),
        ("lease_ttl = true", "rcflow.toml: lease_ttl: expected a duration, got a boolean"),
        (
            "[[validate]]\nname = 'a'\nrun = 'b'\nrequired = 'no'",
            "rcflow.toml: validate[0].required: expected a boolean, got a string",
        ),
        (
            "[[validate]]\nname = 'a'\nrun = ['b']",
            "rcflow.toml: validate[0].run: expected a string, got an array",
        ),
        (
            "[validate]\nname = 'a'",
            "rcflow.toml: validate: expected an array of tables ([[validate]]), got a table",
        ),
        ("validate = [1]", "rcflow.toml: validate[0]: expected a table, got an integer"),
        ("rc_token = 'RC'", "rcflow.toml: rc_token: 'RC' must be lowercase letters (a-z) only"),
        ("tag_prefix = 'v 1'", "rcflow.toml: tag_prefix: 'v 1' cannot start a git tag name"),
        (
            "changelog = '../CHANGELOG.md'",
            "rcflow.toml: changelog: '../CHANGELOG.md' must stay inside the repository (no '..')",
        ),
        (
            "changelog = '/tmp/CHANGELOG.md'",
            "rcflow.toml: changelog: '/tmp/CHANGELOG.md' must be relative to the repository root",
        ),
    ],
)
def test_wrong_values(tmp_path: Path, toml: str, message: str) -> None:
    write(tmp_path, "rcflow.toml", toml + "\n")
    assert config_error(tmp_path) == message


def test_invalid_toml(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", "remote = \n")
    assert config_error(tmp_path).startswith("rcflow.toml: not valid TOML: ")


def test_tool_rcflow_must_be_a_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool]\nrcflow = "yes"\n')
    assert config_error(tmp_path) == "pyproject.toml: [tool.rcflow] must be a table, got a string"


def test_forge_github_and_its_settings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rcflow.toml",
        "forge = 'github'\ngithub_api_url = 'https://ghe.example.com/api/v3/'\n"
        "github_repository = 'acme/app'\n",
    )
    config = load_config(tmp_path)
    assert (config.forge, config.github_api_url, config.github_repository) == (
        "github",
        "https://ghe.example.com/api/v3",
        "acme/app",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "github_api_url = 'ghe.example.com'",
            "github_api_url: 'ghe.example.com' is not an http(s) URL",
        ),
        ("github_repository = 'app'", "github_repository: 'app' is not owner/repo"),
        ("[assets]\nbuild = 'make'", 'assets.files: required (globs such as ["dist/*"])'),
        ("[assets]\nfiles = []", "assets.files: must name at least one glob"),
        (
            "[assets]\nfiles = ['../x']",
            "assets.files[0]: '../x' must stay inside the repository (no '..')",
        ),
        ("[assets]\nfiles = ['dist/*']\nbuild = ' '", "assets.build: must not be empty"),
        ("[assets]\nfiles = ['dist/*']\nsign = true", "unknown key 'assets.sign'"),
        ("assets = 'dist/*'", "assets: expected a table ([assets]), got a string"),
        ("[hooks]\nafter_release = 'x'", "unknown key 'hooks.after_release'"),
        ("[hooks]\nafter_promote = ''", "hooks.after_promote: must not be empty"),
        ("[hooks]\nafter_promote = 1", "hooks.after_promote: expected a string, got an integer"),
        ("[hooks]\ntimeout = '5 min'", "hooks.timeout: not a duration: '5 min' (use 90s, 10m, 1h)"),
    ],
)
def test_github_assets_and_hooks_errors(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "rcflow.toml", text + "\n")
    assert config_error(tmp_path) == f"rcflow.toml: {message}"


def test_assets_and_hooks(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rcflow.toml",
        "[assets]\nfiles = ['dist/*', 'docs/*.pdf']\nbuild = 'make dist'\ntimeout = '10m'\n"
        "[hooks]\nafter_promote = 'twine upload dist/*'\nafter_rollback = './yank.sh'\n",
    )
    config = load_config(tmp_path)
    assert config.assets == AssetsConfig(("dist/*", "docs/*.pdf"), "make dist", 600.0)
    assert config.hooks == HooksConfig("twine upload dist/*", "./yank.sh", 1800.0)
    assert config.hooks.command("after_rollback") == "./yank.sh"


def test_forge_unknown(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", "forge = 'gitlab'\n")
    assert config_error(tmp_path) == (
        "rcflow.toml: forge 'gitlab' is unknown (allowed: 'local', 'github')"
    )


# --- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h0m5s", 3605.0),
        ("1.5m", 90.0),
        (" 2m ", 120.0),
        ("30", 30.0),
        (45, 45.0),
        (0.5, 0.5),
    ],
)
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("text", ["", "5 min", "1h30", "m", "10x", "1s1m", "-5s", True])
def test_parse_duration_rejects(text: str | int | float) -> None:
    with pytest.raises(ConfigError) as err:
        parse_duration(text, "rcflow.toml: validate[0].timeout")
    assert err.value.message == (
        f"rcflow.toml: validate[0].timeout: not a duration: {text!r} (use 90s, 10m, 1h)"
    )


@pytest.mark.parametrize("text", [0, "0s", -1, "0h0m"])
def test_parse_duration_must_be_positive(text: str | int | float) -> None:
    with pytest.raises(ConfigError) as err:
        parse_duration(text, "lease_ttl")
    assert err.value.message == f"lease_ttl: must be longer than zero, got {text!r}"


@given(h=st.integers(0, 48), m=st.integers(0, 59), s=st.integers(0, 59))
def test_parse_duration_units_add_up(h: int, m: int, s: int) -> None:
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    total = h * 3600 + m * 60 + s
    if total:
        assert parse_duration(text, "x") == float(total)


def test_bad_duration_in_config(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", "[[validate]]\nname = 'a'\nrun = 'b'\ntimeout = '5 min'\n")
    assert config_error(tmp_path) == (
        "rcflow.toml: validate[0].timeout: not a duration: '5 min' (use 90s, 10m, 1h)"
    )
    write(tmp_path, "rcflow.toml", "lease_ttl = 0\n")
    assert config_error(tmp_path) == "rcflow.toml: lease_ttl: must be longer than zero, got 0"


# --- version files --------------------------------------------------------------------------------


def test_missing_version_file(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", "[[version_file]]\npath = 'x'\n")
    assert config_error(tmp_path) == "rcflow.toml: version_file[0].path: no such file 'x'"


def test_version_file_path_required(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", "[[version_file]]\nspelling = 'semver'\n")
    assert config_error(tmp_path) == "rcflow.toml: version_file[0].path: required"


def test_version_file_paths_must_stay_inside(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(tmp_path, "outside.py", '__version__ = "1"\n')
    write(repo, "rcflow.toml", "[[version_file]]\npath = '../outside.py'\n")
    assert config_error(repo) == (
        "rcflow.toml: version_file[0].path: '../outside.py' "
        "must stay inside the repository (no '..')"
    )
    write(repo, "rcflow.toml", f"[[version_file]]\npath = '{tmp_path / 'outside.py'}'\n")
    assert config_error(repo) == (
        f"rcflow.toml: version_file[0].path: '{tmp_path / 'outside.py'}' must be relative to the "
        "repository root"
    )
    (repo / "link.py").symlink_to(tmp_path / "outside.py")
    write(repo, "rcflow.toml", "[[version_file]]\npath = 'link.py'\n")
    assert config_error(repo) == (
        "rcflow.toml: version_file[0].path: 'link.py' is outside the repository"
    )


def test_pattern_without_version_group(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", "1.0.0\n")
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(
        tmp_path,
        "rcflow.toml",
        "[[version_file]]\npath = 'pyproject.toml'\n\n"
        "[[version_file]]\npath = 'VERSION'\npattern = '^(\\d+\\.\\d+\\.\\d+)$'\n",
    )
    assert config_error(tmp_path) == (
        "rcflow.toml: version_file[1].pattern has no (?P<version>...) group"
    )


def test_bad_regex(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", "1.0.0\n")
    write(tmp_path, "rcflow.toml", "[[version_file]]\npath = 'VERSION'\npattern = '(?P<version>'\n")
    assert config_error(tmp_path) == (
        "rcflow.toml: version_file[0].pattern: invalid regex: "
        "missing ), unterminated subpattern at position 0"
    )


def test_undetectable_kind_needs_a_pattern(tmp_path: Path) -> None:
    write(tmp_path, "VERSION", "1.0.0\n")
    write(tmp_path, "rcflow.toml", "[[version_file]]\npath = 'VERSION'\n")
    assert config_error(tmp_path) == (
        "rcflow.toml: version_file[0]: cannot tell the kind of 'VERSION'; "
        "add a pattern with a (?P<version>...) group"
    )


def test_explicit_kind_and_spelling(tmp_path: Path) -> None:
    write(tmp_path, "meta/pkg.toml", '[package]\nversion = "1.0.0"\n')
    write(
        tmp_path,
        "rcflow.toml",
        "[[version_file]]\npath = 'meta/pkg.toml'\nkind = 'cargo'\nspelling = 'pep440'\n",
    )
    assert load_config(tmp_path).version_files == (
        VersionFileConfig("meta/pkg.toml", K.CARGO, None, Spelling.PEP440),
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "kind = 'yaml'",
            "rcflow.toml: version_file[0].kind: unknown value 'yaml' (allowed: 'pyproject', "
            "'package.json', 'cargo', 'python', 'helm', 'pattern')",
        ),
        (
            "spelling = 'calver'",
            "rcflow.toml: version_file[0].spelling: unknown value 'calver' "
            "(allowed: 'semver', 'pep440', 'tag')",
        ),
        ("kind = 'pattern'", "rcflow.toml: version_file[0].pattern: required for kind 'pattern'"),
        (
            "kind = 'pyproject'\npattern = '(?P<version>.)'",
            "rcflow.toml: version_file[0].pattern: only used with kind 'pattern', not 'pyproject'",
        ),
    ],
)
def test_version_file_kind_errors(tmp_path: Path, entry: str, message: str) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "rcflow.toml", f"[[version_file]]\npath = 'pyproject.toml'\n{entry}\n")
    assert config_error(tmp_path) == message


def test_configured_version_file_is_not_read(tmp_path: Path) -> None:
    # Reading (and reporting with line numbers) is the caller's job, not config's.
    write(tmp_path, "package.json", "{ not json")
    write(tmp_path, "rcflow.toml", "[[version_file]]\npath = 'package.json'\n")
    assert load_config(tmp_path).version_files == (
        VersionFileConfig("package.json", K.PACKAGE_JSON, None, None),
    )


# --- auto-detection -------------------------------------------------------------------------------


def test_auto_detection_order(tmp_path: Path) -> None:
    write(tmp_path, "Chart.yaml", "name: x\nversion: 1.0.0\n")
    assert [vf.path for vf in load_config(tmp_path).version_files] == ["Chart.yaml"]
    write(tmp_path, "Cargo.toml", '[package]\nname = "x"\nversion = "1.0.0"\n')
    assert [vf.path for vf in load_config(tmp_path).version_files] == ["Cargo.toml"]
    write(tmp_path, "package.json", '{"name": "x", "version": "1.0.0"}')
    assert [vf.path for vf in load_config(tmp_path).version_files] == ["package.json"]
    write(tmp_path, "pyproject.toml", PYPROJECT)
    assert load_config(tmp_path).version_files == (
        VersionFileConfig("pyproject.toml", K.PYPROJECT, None, None),
    )


def test_auto_detection_skips_files_without_a_version(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndynamic = ["version"]\n')
    write(tmp_path, "package.json", '{"name": "tooling", "private": true}')
    write(tmp_path, "Cargo.toml", '[package]\nname = "x"\nversion = "0.2.0"\n')
    assert load_config(tmp_path).version_files == (
        VersionFileConfig("Cargo.toml", K.CARGO, None, None),
    )


def test_auto_detection_finds_nothing(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndynamic = ["version"]\n')
    write(tmp_path, "rcflow.toml", "remote = 'origin'\n")
    assert load_config(tmp_path).version_files == ()


# --- validations ----------------------------------------------------------------------------------


def test_duplicate_validation_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rcflow.toml",
        "[[validate]]\nname = 'a'\nrun = 'x'\n[[validate]]\nname = 'b'\nrun = 'y'\n"
        "[[validate]]\nname = 'a'\nrun = 'z'\n",
    )
    assert config_error(tmp_path) == (
        "rcflow.toml: validate[2].name: duplicate name 'a' (see validate[0])"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("run = 'x'", "rcflow.toml: validate[0].name: required"),
        (
            "name = 'a'",
            "rcflow.toml: validate[0].run: required "
            "(or workflow, or checks/statuses, or deployment)",
        ),
        (
            "name = 'unit tests'\nrun = 'x'",
            "rcflow.toml: validate[0].name: 'unit tests' may use only A-Z a-z 0-9 _ . -",
        ),
        ("name = 'a'\nrun = '  '", "rcflow.toml: validate[0].run: must not be empty"),
        (
            "name = 'a'\nrun = 'x'\ntimeout = -3",
            "rcflow.toml: validate[0].timeout: must be longer than zero, got -3",
        ),
    ],
)
def test_validation_errors(tmp_path: Path, entry: str, message: str) -> None:
    write(tmp_path, "rcflow.toml", f"[[validate]]\n{entry}\n")
    assert config_error(tmp_path) == message


def test_previous_names_and_allowed_references(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rcflow.toml",
        'previous_names = ["old-org/repo", "older/Repo.py"]\n'
        'allow_references = ["github.com/old-org/repo/blob/v1/LICENSE"]\n',
    )
    config = load_config(tmp_path)
    assert config.previous_names == ("old-org/repo", "older/Repo.py")
    assert config.allow_references == ("github.com/old-org/repo/blob/v1/LICENSE",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('previous_names = "old-org/repo"\n', "rcflow.toml: previous_names: expected an array"),
        (
            'previous_names = ["old-org"]\n',
            "rcflow.toml: previous_names[0]: 'old-org' is not owner/repo",
        ),
        (
            "allow_references = [1]\n",
            "rcflow.toml: allow_references[0]: expected a non-empty string",
        ),
    ],
)
def test_previous_names_errors(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "rcflow.toml", text)
    assert message in config_error(tmp_path)


def test_notify_webhook_env(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", '[notify]\nwebhook_env = "SLACK_RELEASES"\n')
    assert load_config(tmp_path).notify_webhook_env == "SLACK_RELEASES"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[notify]\nwebhook = "https://hooks.example/x"\n', "unknown key 'notify.webhook'"),
        ('[notify]\nwebhook_env = "not a name"\n', "notify.webhook_env: 'not a name'"),
        ('notify = "x"\n', "notify: expected a table"),
    ],
)
def test_notify_errors(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "rcflow.toml", text)
    assert message in config_error(tmp_path)
