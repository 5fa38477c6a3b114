"""The package index adapter against a real pypiserver on 127.0.0.1 (no internet, no fallback).

One server per module; each test publishes its own project, so they share it.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import requests
from realservers.pypi import PypiServer, build_sdist, build_wheel, start_pypiserver

from rcflow.adapters.pyindex import (
    DistFile,
    IndexAccessError,
    PackageIndex,
    normalize,
    parse_project_page,
    publish,
)
from rcflow.errors import BlockedError, ConflictError, UsageError

# The index user the conftest's `pypi` and `front` fixtures serve this module with.
USER, PASSWORD = "releaser", "upl0ad-pw"


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    """A project name per test, spelled un-normalized on purpose (Demo.Name_x)."""
    words = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:30]
    return f"Demo.{words}_{secrets.token_hex(3)}"


def index_for(pypi: PypiServer, password: str | None = PASSWORD) -> PackageIndex:
    return PackageIndex(pypi.url, pypi.simple_url, USER, password)


def dists(directory: Path, project: str, version: str = "1.4.0") -> list[Path]:
    return [build_wheel(directory, project, version), build_sdist(directory, project, version)]


# --- dist files (no server) -------------------------------------------------------------------


def test_dist_metadata_comes_from_the_files(tmp_path: Path) -> None:
    wheel_path, sdist_path = dists(tmp_path, "Demo.Pkg", "1.4.0rc2")
    wheel, sdist = DistFile.read(wheel_path), DistFile.read(sdist_path)
    assert (wheel.name, wheel.version, wheel.filetype, wheel.pyversion) == (
        "Demo.Pkg",
        "1.4.0rc2",
        "bdist_wheel",
        "py3",
    )
    assert (sdist.filetype, sdist.pyversion, sdist.metadata_version) == ("sdist", "source", "2.1")
    assert wheel.project == sdist.project == "demo-pkg"
    fields = dict(wheel.extra_fields)
    assert fields["requires_python"] == ">=3.11"
    assert fields["description"].startswith("# Demo")
    assert [v for k, v in wheel.extra_fields if k == "classifiers"] == [
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
    ]


def test_not_a_dist_is_a_usage_error(tmp_path: Path) -> None:
    for name, data in (("notes.txt", b"x"), ("broken-1.0-py3-none-any.whl", b"not a zip")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UsageError):
            DistFile.read(tmp_path / name)


def test_project_pages_json_and_html() -> None:
    """PEP 691 JSON (what PyPI serves) and PEP 503 HTML with and without hash fragments."""
    page = "https://pypi.example/simple/demo-pkg/"
    json_body = (
        b'{"meta": {"api-version": "1.1"}, "name": "demo-pkg", "files": ['
        b'{"filename": "demo_pkg-1.0.tar.gz", "url": "../../files/demo_pkg-1.0.tar.gz",'
        b' "hashes": {"sha256": "aa"}},'
        b'{"filename": "demo_pkg-1.0-py3-none-any.whl", "url": "https://cdn.example/w.whl",'
        b' "hashes": {}}]}'
    )
    files = parse_project_page("application/vnd.pypi.simple.v1+json", json_body, page)
    assert files["demo_pkg-1.0.tar.gz"].sha256 == "aa"
    assert files["demo_pkg-1.0.tar.gz"].url == "https://pypi.example/files/demo_pkg-1.0.tar.gz"
    assert files["demo_pkg-1.0-py3-none-any.whl"].sha256 is None
    html = (
        b'<html><body><a href="../../packages/demo_pkg-1.0.tar.gz#sha256=bb">x</a>'
        b'<a href="/p/demo_pkg-1.0-py3-none-any.whl#md5=cc">y</a></body></html>'
    )
    files = parse_project_page("text/html; charset=utf-8", html, page)
    assert files["demo_pkg-1.0.tar.gz"].sha256 == "bb"
    assert files["demo_pkg-1.0-py3-none-any.whl"].sha256 is None


def test_a_token_is_never_shown_and_only_https_is_used() -> None:
    index = PackageIndex(
        "https://upload.pypi.org/legacy/",
        "https://pypi.org/simple/",
        password="pypi-secret",
        password_source="PYPI_TOKEN",
    )
    assert index.username == "__token__"
    assert "pypi-secret" not in repr(index)
    with pytest.raises(UsageError, match="https only"):
        PackageIndex("http://upload.example/legacy/", "https://pypi.org/simple/")


# --- against pypiserver -----------------------------------------------------------------------


def test_publish_two_files_then_a_rerun_uploads_nothing(
    pypi: PypiServer, project: str, tmp_path: Path
) -> None:
    paths = dists(tmp_path, project)
    index = index_for(pypi)
    index.can_upload()

    first = publish(index, paths)

    assert [o.action for o in first] == ["uploaded", "uploaded"]
    listed = index.files(normalize(project))
    assert listed == {p.name: DistFile.read(p).sha256 for p in paths}
    assert pypi.stored()[-2:] == [p.name for p in paths]
    stored_before = len(pypi.stored())

    again = publish(index_for(pypi), paths)

    assert [o.action for o in again] == ["skipped", "skipped"]
    assert len(pypi.stored()) == stored_before
    assert "already on the index" in again[0].describe()


def test_a_partial_upload_resumes_with_the_missing_file(
    pypi: PypiServer, project: str, tmp_path: Path
) -> None:
    wheel, sdist = dists(tmp_path, project)
    index = index_for(pypi)
    assert index.upload(DistFile.read(wheel)) == "uploaded"  # the run that crashed after one file

    outcomes = publish(index, [wheel, sdist])

    assert [(o.target, o.action) for o in outcomes] == [
        (wheel.name, "skipped"),
        (sdist.name, "uploaded"),
    ]
    assert pypi.stored().count(wheel.name) == 1
    assert set(index.files(project)) == {wheel.name, sdist.name}


def test_a_file_on_the_index_with_other_bytes_is_a_conflict_and_nothing_is_uploaded(
    pypi: PypiServer, project: str, tmp_path: Path
) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    theirs = build_wheel(other_dir, project, "1.4.0", payload="built elsewhere")
    index = index_for(pypi)
    index.upload(DistFile.read(theirs))
    wheel, sdist = dists(tmp_path, project)
    assert wheel.name == theirs.name
    stored_before = len(pypi.stored())

    with pytest.raises(ConflictError) as caught:
        publish(index, [wheel, sdist])

    assert caught.value.untouched
    assert caught.value.message == (
        f"the index has {wheel.name} with sha256 {DistFile.read(theirs).sha256}, "
        f"not {DistFile.read(wheel).sha256}"
    )
    assert "new version" in str(caught.value.hint)
    assert len(pypi.stored()) == stored_before  # not even the sdist
    assert index.files(project) == {theirs.name: DistFile.read(theirs).sha256}


def test_the_index_refusing_a_duplicate_is_a_skip_when_the_bytes_match(
    pypi: PypiServer, project: str, tmp_path: Path
) -> None:
    """pypiserver answers 409 for a file name it has: the same bytes count as done."""
    wheel = DistFile.read(build_wheel(tmp_path, project, "1.4.0"))
    index = index_for(pypi)
    assert index.upload(wheel) == "uploaded"
    assert index.upload(wheel) == "exists"


def test_a_wrong_password_is_refused_clearly_and_nothing_is_uploaded(
    pypi: PypiServer, project: str, tmp_path: Path
) -> None:
    paths = dists(tmp_path, project)
    index = index_for(pypi, password="not-the-password")
    stored_before = len(pypi.stored())

    with pytest.raises(IndexAccessError) as caught:
        index.can_upload()
    message = caught.value.message
    assert message == (
        f"127.0.0.1:{pypi.url.rsplit(':', 1)[1].strip('/')} refused the credentials from "
        "RCFLOW_INDEX_PASSWORD (user releaser) to check the upload credentials (HTTP 403)"
    )
    assert isinstance(caught.value, BlockedError)
    with pytest.raises(IndexAccessError) as caught:
        publish(index, paths)
    assert "not-the-password" not in caught.value.message + str(caught.value.hint)
    assert len(pypi.stored()) == stored_before

    with pytest.raises(IndexAccessError, match="none were given"):
        index_for(pypi, password=None).can_upload()
    assert not [p for p in pypi.packages.iterdir() if p.name in {q.name for q in paths}]


def test_hashes_are_computed_when_the_index_lists_none(tmp_path: Path) -> None:
    """An index whose links carry no #sha256= (pypiserver --hash-algo off): download and hash."""
    server = start_pypiserver(tmp_path / "nohash", {USER: PASSWORD}, hash_algo="off")
    try:
        index = index_for(server)
        paths = dists(tmp_path, "Demo.NoHash")
        assert [o.action for o in publish(index, paths)] == ["uploaded", "uploaded"]
        assert [o.action for o in publish(index, paths)] == ["skipped", "skipped"]
        page = requests.get(server.simple_url + "demo-nohash/", auth=(USER, PASSWORD), timeout=5)
        assert page.status_code == 200 and "#sha256=" not in page.text
    finally:
        server.stop()
