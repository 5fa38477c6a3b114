"""[[image]] and [python_package]: what they accept, and one-line errors for what they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcflow.model.config import ImageConfig, PythonPackageConfig, load_config
from tests.support.config import config_error, write

ASSETS = "[assets]\nfiles = ['dist/*']\n"


def test_images_and_package(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rcflow.toml",
        "[[image]]\nname = 'ghcr.io/acme/app'\nlatest = true\n"
        "[[image]]\nname = 'docker.io/acme/app'\nspelling = 'semver'\n"
        "[[image]]\nname = 'registry.example.com:5000/team/app'\ninsecure = true\n"
        + ASSETS
        + "[python_package]\nupload_url = 'https://test.pypi.org/legacy/'\npublish_rc = true\n",
    )
    config = load_config(tmp_path)
    assert [(i.name, i.spelling.value, i.latest, i.insecure) for i in config.images] == [
        ("ghcr.io/acme/app", "tag", True, False),
        ("docker.io/acme/app", "semver", False, False),
        ("registry.example.com:5000/team/app", "tag", False, True),
    ]
    assert config.python_package == PythonPackageConfig(
        upload_url="https://test.pypi.org/legacy/",
        simple_url="https://test.pypi.org/simple/",
        publish_rc=True,
    )


def test_defaults(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", "[[image]]\nname = 'acme/app'\n" + ASSETS + "[python_package]\n")
    config = load_config(tmp_path)
    assert config.images == (ImageConfig("acme/app"),)
    package = config.python_package
    assert package is not None
    assert (package.upload_url, package.simple_url, package.username, package.password_env) == (
        "https://upload.pypi.org/legacy/",
        "https://pypi.org/simple/",
        "__token__",
        "RCFLOW_INDEX_PASSWORD",
    )
    assert (package.files, package.publish_rc) == (("*.whl", "*.tar.gz"), False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[image]]\nlatest = true", 'image[0].name: required (e.g. "ghcr.io/acme/app")'),
        (
            "[[image]]\nname = 'ghcr.io/acme/app:v1'",
            "image[0].name: 'ghcr.io/acme/app:v1' names a tag; name the repository only",
        ),
        (
            "[[image]]\nname = 'ghcr.io/Acme/app'",
            "image[0].name: 'ghcr.io/Acme/app': invalid repository name 'Acme/app'",
        ),
        (
            "[[image]]\nname = 'ghcr.io/a/b'\n[[image]]\nname = 'ghcr.io/a/b'",
            "image[1].name: 'ghcr.io/a/b' duplicates image[0]",
        ),
        (
            "[[image]]\nname = 'docker.io/a/b'\n[[image]]\nname = 'a/b'",
            "image[1].name: 'a/b' duplicates image[0]",
        ),
        (
            "[[image]]\nname = 'a/b'\nspelling = 'calver'",
            "image[0].spelling: unknown value 'calver' (allowed: 'semver', 'pep440', 'tag')",
        ),
        (
            "[[image]]\nname = 'a/b'\nlatest = 'yes'",
            "image[0].latest: expected a boolean, got a string",
        ),
        ("[[image]]\nname = 'a/b'\npush = true", "unknown key 'image[0].push'"),
        (
            "tag_prefix = 'release/'\n[[image]]\nname = 'a/b'",
            "image[0].spelling: 'tag' gives image tags such as 'release/1.4.0-rc.2', which "
            'registries refuse (use spelling = "semver")',
        ),
        (
            "[python_package]",
            "python_package: publishes the RC's release assets byte for byte: "
            "add [assets] that builds the dists",
        ),
        (
            ASSETS + "[python_package]\nupload_url = 'https://pkgs.example.com/upload'",
            "python_package.simple_url: required for the index at 'https://pkgs.example.com/upload'",
        ),
        (
            ASSETS
            + "[python_package]\nupload_url = 'http://pkgs.example.com/'\nsimple_url = 'https://pkgs.example.com/simple/'",
            "python_package.upload_url: 'http://pkgs.example.com/': "
            "https only (plain http on loopback)",
        ),
        (
            ASSETS + "[python_package]\npassword_env = 'my token'",
            "python_package.password_env: 'my token' is not an environment variable name",
        ),
        (
            ASSETS + "[python_package]\nfiles = ['dist/*.whl']",
            "python_package.files[0]: 'dist/*.whl' must match asset names, not paths",
        ),
        (
            ASSETS + "[python_package]\nfiles = []",
            "python_package.files: must name at least one glob",
        ),
        (ASSETS + "[python_package]\ntoken = 'x'", "unknown key 'python_package.token'"),
    ],
)
def test_errors(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "rcflow.toml", text + "\n")
    assert config_error(tmp_path) == f"rcflow.toml: {message}"


def test_trusted_publishing_needs_no_password_and_takes_none(tmp_path: Path) -> None:
    write(tmp_path, "rcflow.toml", ASSETS + "[python_package]\ntrusted_publishing = true\n")
    package = load_config(tmp_path).python_package
    assert package is not None and package.trusted_publishing
    assert package.username == "__token__"
    for key, value in (("password_env", "'PYPI_TOKEN'"), ("username", "'me'")):
        text = f"{ASSETS}[python_package]\ntrusted_publishing = true\n{key} = {value}\n"
        write(tmp_path, "rcflow.toml", text)
        assert config_error(tmp_path) == (
            f"rcflow.toml: python_package.{key}: not with trusted_publishing "
            "(the index mints the token)"
        )
    write(tmp_path, "rcflow.toml", ASSETS + "[python_package]\ntrusted_publishing = 'yes'\n")
    assert "python_package.trusted_publishing" in config_error(tmp_path)
