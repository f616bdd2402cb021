"""Builds are atomic: a failure at any stage leaves the previous knowledge base in place and no
half-built directory behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kb import build as build_module
from kb.build import build
from kb.errors import BuildError, Problem
from kb.store import current_build
from kb.validate import ShapeResult


def test_rebuild_switches_current_and_keeps_two(mini_copy: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = build(mini_copy, home).build
    second = build(mini_copy, home).build
    third = build(mini_copy, home).build
    assert current_build(home).path == third.resolve()
    left = sorted(os.listdir(home / "builds"))
    assert len(left) == 2 and first.name not in left and second.name in left
    manifest = current_build(home).read_manifest()
    assert manifest["observations"] == 28 and manifest["runs"]


def test_shape_violation_discards_the_new_build(
    mini_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    before = build(mini_copy, home).build
    monkeypatch.setattr(build_module, "check_shapes", lambda store: ShapeResult(
        False, [Problem("KB030", "https://example.org/x: broken on purpose")]))
    with pytest.raises(BuildError) as info:
        build(mini_copy, home)
    assert [p.code for p in info.value.problems] == ["KB030"]
    assert current_build(home).path == before.resolve()
    assert os.listdir(home / "builds") == [before.name]
