"""kb plot: charts written to PNG and SVG, Chinese labels drawn with a CJK font."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pyoxigraph as ox
import pytest

from kb import charts
from kb.namespaces import ID

PNG = b"\x89PNG\r\n\x1a\n"


def plot(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kb.cli", "plot", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("args", "suffix"), [
    (["radar", "深圳"], "png"),
    (["heatmap", "coo-2025"], "svg"),
    (["sunburst", "中国城市数字经济指数（2020）"], "png"),
    (["bump", "coo-2025", "dei-2020"], "svg"),
])
def test_plot_writes_the_chart(real_home: Path, tmp_path: Path, args: list[str],
                               suffix: str) -> None:
    out = tmp_path / f"{args[0]}.{suffix}"
    done = plot(real_home, *args, "-o", str(out))
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    if suffix == "png":
        assert data.startswith(PNG) and len(data) > 20_000
    else:
        root = ET.fromstring(data)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert f"wrote {out}" in done.stdout


def test_plot_refuses_what_it_cannot_draw(real_home: Path, tmp_path: Path) -> None:
    bad_suffix = plot(real_home, "radar", "深圳", "-o", str(tmp_path / "x.jpg"))
    assert bad_suffix.returncode == 2 and "KB058" in bad_suffix.stderr
    too_many = plot(real_home, "heatmap", "coo-2025", "dei-2020", "-o", str(tmp_path / "x.png"))
    assert too_many.returncode == 2 and "KB106" in too_many.stderr
    unknown = plot(real_home, "radar", "东不", "-o", str(tmp_path / "x.png"))
    assert unknown.returncode == 2 and "KB050" in unknown.stderr
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_chinese_labels_have_glyphs(real_store: ox.Store) -> None:
    """With a CJK font installed (.ci/run installs fonts-noto-cjk) every Chinese label is
    drawn: matplotlib warns of each glyph its font lacks."""
    if charts.cjk_font() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no CJK font: .ci/run must install fonts-noto-cjk")
        pytest.skip("no CJK font installed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = charts.radar(real_store, ID + "city/shenzhen")
        png = charts.save(fig, "png")
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert missing == [] and png.startswith(PNG)
    assert "深圳" in {t.get_text() for t in fig.axes[0].get_xticklabels()} | {
        fig.axes[0].get_title().split(" ")[0]}


def test_effective_weights_sum_to_one_per_level(real_store: ox.Store) -> None:
    weights = charts.effective_weights(real_store, ID + "framework/dei-2020")
    by_depth: dict[int, float] = {}
    leaves = {n for n in weights} - {p for p, _, _ in weights.values()}
    for node, (_, w, depth) in weights.items():
        by_depth[depth] = by_depth.get(depth, 0.0) + w
        assert w > 0, node
    assert by_depth[1] == pytest.approx(1.0)
    assert sum(weights[n][1] for n in leaves) == pytest.approx(1.0)
