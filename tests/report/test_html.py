"""Offline HTML reports: self-contained, escaped, complete, a pure read, written atomically."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from markupsafe import escape
from sklearn.decomposition import PCA
from tests.report.conftest import N

from segtrail.engine.algorithms.base import sample_rows
from segtrail.errors import SegtrailError
from segtrail.report import html as reports
from segtrail.services.segmentations import resolve_segmentation
from segtrail.services.workspace import Workspace
from segtrail.store import objects


def outside_bundle(page: str, plotlyjs: str) -> str:
    """The page without the embedded plotly.js (which itself mentions URLs it never loads).
    A page with plotly figures embeds the bundle exactly once; a page without (the diff
    report: SVG and tables only) embeds none."""
    expected = 1 if "Plotly.newPlot" in page else 0
    assert page.count(plotlyjs) == expected, "plotly.js must be embedded once, where needed"
    return page.replace(plotlyjs, "")


# --- self-contained and offline ------------------------------------------------------------


@pytest.mark.parametrize("which", ["version_report", "diff_report"])
def test_report_is_one_offline_file(which, request, plotlyjs):
    result, page = request.getfixturevalue(which)
    assert Path(result["out"]).is_file()
    assert result["bytes"] == Path(result["out"]).stat().st_size
    rest = outside_bundle(page, plotlyjs)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=", page, re.IGNORECASE)
    assert "http://" not in rest and "https://" not in rest
    assert "cdn.plot.ly" not in rest and "//cdn" not in rest
    # every figure is drawn into its own div: by the embedded library, or as inline SVG
    figures = re.findall(r'Plotly\.newPlot\(\s*"fig-([\w-]+)"', rest)
    figures += re.findall(r'<div id="fig-([\w-]+)"><svg', rest)
    assert sorted(figures) == result["figures"]


def test_user_text_is_escaped(version_report, plotlyjs):
    _, page = version_report
    rest = outside_bundle(page, plotlyjs)
    assert "hypothesis text &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in rest
    assert "<script>alert" not in rest
    assert "App natives &lt;/script&gt;&lt;b&gt;" in rest  # tables
    # in the figures' JSON "<" is \u003c, and plotly's own markup sees an escaped name
    assert "App natives \\u003c\\u002fscript\\u003e" not in rest
    assert "App natives &lt;\\u002fscript&gt;&lt;b&gt;" in rest
    assert rest.count("</script>") == rest.count("<script")


# --- the version report ---------------------------------------------------------------------


def test_version_report_has_every_section(ws, version_report):
    result, page = version_report
    info = ws.show("marketing@1")
    assert result["version"] == "marketing@1" and result["kind"] == "version"
    assert {"projection", "k_curve", "stability"} <= set(result["figures"])
    assert 'id="profile-table"' in page  # the heatmap is an HTML table
    assert "campaign_0" in result["figures"]
    for segment in info["segments"][1:]:
        assert escape(segment["name"]) in page and escape(segment["description"]) in page
    assert "fit=poor" in page
    assert "tiktok-push" in page and "win-back" in page and "young &amp; app heavy" in page
    assert "spring-wave" in page
    assert "marketing@2" in page and "Age alone &lt;i&gt;explains&lt;/i&gt; it" in page  # lineage
    assert f"all {N:,} customers" in page  # no sampling below the limit, and it says so
    assert f"k = {info['k']}" in page
    assert info["dataset"] in page and info["author"] in page


def test_lineage_highlights_the_version_and_nests_children(ws):
    page = Path(ws.report("marketing@2", ws.root.parent / "v2.html")["out"]).read_text()
    current = re.findall(r'<span class="current"><b>([^<]+)</b>', page)
    assert current == ["marketing@2"]
    # marketing@2's list item sits inside marketing@1's
    lineage = page[page.index('id="lineage"') : page.index('id="parameters"')]
    assert lineage.index("marketing@1") < lineage.index("<ul>") < lineage.index("marketing@2")
    assert "No strategy is mapped on marketing@2" in page
    assert "k_curve" not in result_figures(ws, "marketing@2")  # k was fixed: no curve


def result_figures(ws: Workspace, ref: str) -> list[str]:
    return ws.report(ref, ws.root.parent / "figures.html")["figures"]


def test_projection_labels_follow_the_customers(ws, monkeypatch):
    row = resolve_segmentation(ws, "marketing@1")
    labels = ws.assignments("marketing@1").to_numpy()
    full = reports._projection(ws, row)
    assert full["sample"] == full["customers"] == N
    np.testing.assert_array_equal(full["labels"], labels)
    monkeypatch.setattr(reports, "SCATTER_SAMPLE", 50)
    part = reports._projection(ws, row)
    assert part["sample"] == 50 and len(part["x"]) == 50
    np.testing.assert_array_equal(part["labels"], labels[sample_rows(N, 50, reports.SAMPLE_SEED)])
    # the planted groups are far apart, and stay apart in the first two components
    points = np.column_stack([full["x"], full["y"]])
    centres = np.array([points[full["labels"] == s].mean(axis=0) for s in np.unique(labels)])
    gaps = np.linalg.norm(centres[:, None] - centres[None, :], axis=2)
    assert gaps[np.triu_indices(len(centres), 1)].min() > 1.0


def test_sampled_projection_says_so(ws, monkeypatch, plotlyjs):
    monkeypatch.setattr(reports, "SCATTER_SAMPLE", 40)
    result = ws.report("marketing@1", ws.root.parent / "sampled.html")
    page = Path(result["out"]).read_text()
    assert result["sample"] == 40
    assert f"a seeded random sample of 40 of the {N:,} customers" in page


def test_heatmap_values_are_the_profiles_std_diff(ws):
    info = ws.show("marketing@1")
    names = {s["segment"]: s["name"] for s in info["segments"]}
    effects = reports._effects(info["profiles"], names)
    assert effects["z"].shape == (len(info["segments"]), len(effects["features"]))
    for i, segment in enumerate(info["profiles"]["segments"]):
        for entry in segment["numeric"]:
            if entry["column"] in effects["features"]:
                j = effects["features"].index(entry["column"])
                assert effects["z"][i, j] == pytest.approx(entry["std_diff"])
    assert any(f.startswith("channel = ") for f in effects["features"])


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64, st.tuples(st.integers(3, 40), st.integers(2, 6)), elements=st.floats(-50, 50)
    )
)
def test_pca_matches_scikit_learn(X):
    coords, explained = reports._pca2(X)
    spread = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    # compare only where the two leading components are well defined (distinct, non-zero)
    third = spread[2] if len(spread) > 2 else 0.0
    assume(spread[0] > 1e-6 and spread[0] - spread[1] > 1e-3 * spread[0])
    assume(spread[1] - third > 1e-3 * spread[0])
    reference = PCA(n_components=2, svd_solver="full").fit(X)
    np.testing.assert_allclose(explained, reference.explained_variance_ratio_, atol=1e-8)
    np.testing.assert_allclose(
        np.abs(coords), np.abs(reference.transform(X)), atol=1e-6 * max(1.0, spread[0])
    )


# --- the diff report ------------------------------------------------------------------------


def test_diff_report_shows_the_flow(ws, diff_report):
    result, page = diff_report
    delta = ws.diff("marketing@1", "marketing@2")
    assert result["kind"] == "diff" and result["diff"] == "marketing@2"
    assert set(result["figures"]) == {"sankey"}
    assert '<svg class="sankey"' in page and 'id="contingency-table"' in page
    assert f"ARI <b>{delta['ari']:.3f}</b>" in page
    for segment in delta["segments_b"]:
        assert escape(segment["name"]) in page
    for segment in delta["segments_a"]:
        assert f"<td><b>{segment['fate']}</b></td>" in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page


# --- a read, written atomically, with clear errors ------------------------------------------


def test_report_records_nothing(ws, tree_hash, tmp_path):
    before = tree_hash(ws.root)
    events = len(ws.events())
    ws.report("marketing@1", tmp_path / "a.html")
    ws.report("marketing@1", tmp_path / "b.html", diff="marketing@2")
    assert tree_hash(ws.root) == before
    assert len(ws.events()) == events


@pytest.mark.parametrize("name", ["report.pdf", "report", "report.html.txt"])
def test_refuses_other_suffixes(ws, tmp_path, name):
    with pytest.raises(SegtrailError, match=r"\.html"):
        ws.report("marketing@1", tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_refuses_missing_folder_and_unknown_version(ws, tmp_path):
    with pytest.raises(SegtrailError, match="does not exist"):
        ws.report("marketing@1", tmp_path / "nope" / "r.html")
    with pytest.raises(SegtrailError, match="marketing@9"):
        ws.report("marketing@9", tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic(ws, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("old report")

    def broken_replace(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(objects.os, "replace", broken_replace)  # the shared atomic_write
    with pytest.raises(OSError, match="disk full"):
        ws.report("marketing@1", out)
    assert out.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary left behind
    monkeypatch.undo()
    ws.report("marketing@1", out)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


# --- the command line -----------------------------------------------------------------------


def test_cli_writes_the_report_and_prints_its_path(ws, cli, tmp_path):
    out = tmp_path / "cli.html"
    result = cli("--workspace", ws.root, "report", "marketing@1", "--out", out)
    assert result.code == 0, result.err
    assert str(out.resolve()) in result.out and out.is_file()
    result = cli(
        "--workspace", ws.root, "report", "marketing@1", "--diff", "marketing@2", "-o", out
    )
    assert result.code == 0, result.err
    assert '<svg class="sankey"' in out.read_text()
    bad = cli("--workspace", ws.root, "report", "marketing@1", "--out", tmp_path / "r.pdf")
    assert bad.code == 2 and ".html" in bad.err and not (tmp_path / "r.pdf").exists()


# --- a real browser ---------------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="chromium is not installed")
@pytest.mark.parametrize("which", ["version_report", "diff_report"])
def test_report_renders_in_a_browser(which, request, tmp_path):
    result, _ = request.getfixturevalue(which)
    proc = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            Path(result["out"]).as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    plotted = [f for f in result["figures"] if f != "sankey"]
    for figure in plotted:
        div = re.search(rf'<div id="fig-{figure}"[^>]*>(.{{0,400}})', dom, re.S)
        assert div is not None, figure
        assert "plot-container" in div.group(1), figure
    assert dom.count('class="main-svg"') >= len(plotted)
    if "sankey" in result["figures"]:
        assert re.search(r'<div id="fig-sankey"><svg class="sankey"', dom)
