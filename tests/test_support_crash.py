"""The test support: the crash helper covers every write a port protocol declares, without a
list; every scenario position is reachable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pytest

from rcflow.adapters.git import Git
from rcflow.adapters.oci import Registry
from rcflow.adapters.pyindex import PackageIndex
from rcflow.ports.forge import ForgeWrites
from rcflow.ports.git import GitWrites, write_methods
from tests.support.crash import (
    NEVER,
    Crash,
    FailingPorts,
    IndexWrites,
    RegistryWrites,
    failing_ctx,
)
from tests.support.project import Project
from tests.support.scenario import POSITIONS, at


class FakeWrites(Protocol):
    def write_files(self, contents: Mapping[str, str]) -> None: ...

    def a_write_added_later(self, name: str) -> str: ...


class FakeAdapter:
    def __init__(self) -> None:
        self.written: list[str] = []

    def write_files(self, contents: Mapping[str, str]) -> None:
        self.written.append("write_files")

    def a_write_added_later(self, name: str) -> str:
        self.written.append(name)
        return name

    def read(self) -> list[str]:
        return self.written


def test_every_method_of_a_protocol_is_a_crash_point() -> None:
    ports = FailingPorts(after=1)
    fake = FakeAdapter()
    ports.wrap(fake, FakeWrites)

    fake.write_files({})
    with pytest.raises(Crash, match="a_write_added_later"):
        fake.a_write_added_later("x")
    assert fake.a_write_added_later("y") == "y"  # it fails once, then works again
    assert fake.read() == ["write_files", "y"]  # reads are not counted
    assert ports.failed_call == "a_write_added_later"
    assert ports.done == ["write_files", "a_write_added_later"]


def test_a_write_added_to_the_git_port_is_covered_without_editing_a_list(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def a_write_added_later(self: Any) -> str:
        return "written"

    monkeypatch.setattr(GitWrites, "a_write_added_later", a_write_added_later, raising=False)
    monkeypatch.setattr(Git, "a_write_added_later", a_write_added_later, raising=False)

    ctx, ports = failing_ctx(project, after=0)

    with pytest.raises(Crash, match="a_write_added_later"):
        ctx.git.a_write_added_later()  # type: ignore[attr-defined]
    assert ports.failed_call == "a_write_added_later"


def test_a_failing_context_wraps_every_git_and_forge_write(project: Project) -> None:
    ctx, ports = failing_ctx(project, after=NEVER)
    for port, obj in ((GitWrites, ctx.git), (ForgeWrites, ctx.forge)):
        names = write_methods(port)
        assert names, port
        for name in names:
            assert getattr(getattr(obj, name), "crash_point", None) == name, (port, name)
    assert not ports.fired


@pytest.mark.parametrize(
    ("port", "adapter"), [(RegistryWrites, Registry), (IndexWrites, PackageIndex)]
)
def test_the_artifact_write_ports_name_methods_their_clients_have(
    port: type, adapter: type
) -> None:
    for name in write_methods(port):
        assert callable(getattr(adapter, name, None)), (adapter, name)


@pytest.mark.parametrize("position", ["withdrawn", "retracted"])
def test_every_scenario_position_is_reachable(make_project: Any, position: str) -> None:
    """`at` reaches the rolled-back positions too (the others are reached by the step tests)."""
    p = at(make_project(), position)
    assert p.status()["state"] == POSITIONS[position][3]
