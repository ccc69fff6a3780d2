"""The reports in a real headless Chromium at 1280 px (Debian's, driven by Playwright): every
chart renders with the vendored bundle, no label is cut by its figure or drawn over another
label or a legend, and the page never scrolls sideways. Screenshots of each report's top
(what a manager sees first) and of the whole page go to tests/artifacts/ for a person to
look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.report.conftest import build_workspace

from segtrail.services.workspace import Workspace

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the dev extra is not installed
    sync_playwright = None

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WIDTH = 1280
LONG_NAMES = {
    1: "Older support-heavy customers who phone us about invoices every single month",
    2: "Bargain hunters",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sync_playwright is None or not Path(CHROMIUM).exists(),
        reason="needs playwright and Debian's chromium",
    ),
]

# Every drawn text box of the page's figures, as {figure, kind, text, box}, plus the problems
# found: a label outside its figure, two labels over each other, a label under the legend.
MEASURE = """
() => {
  const problems = [];
  const boxOf = (el) => { const r = el.getBoundingClientRect();
    return {l: r.left, t: r.top, r: r.right, b: r.bottom}; };
  const overlap = (a, b) => Math.min(a.r, b.r) - Math.max(a.l, b.l) > 1
                         && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 1;
  const inside = (a, o) => a.l >= o.l - 1 && a.r <= o.r + 1 && a.t >= o.t - 1 && a.b <= o.b + 1;
  const figures = [];
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const outer = boxOf(gd);
    const sel = '.xtick text, .ytick text, .g-xtitle text, .g-ytitle text, '
              + '.annotation-text, .gtitle, .bartext text, .legendtext, .legendtitletext';
    const labels = [...gd.querySelectorAll(sel)]
      .filter(e => e.textContent.trim() && e.getBoundingClientRect().width > 0)
      .map(e => ({text: e.textContent, box: boxOf(e), legend: !!e.closest('.legend'),
                  bar: !!e.closest('.bartext')}));
    const legendBg = gd.querySelector('.legend .bg');
    const legend = legendBg ? boxOf(legendBg) : null;
    for (const a of labels) {
      if (!inside(a.box, outer)) problems.push(`${gd.id}: "${a.text}" is cut by the figure`);
      if (legend && !a.legend && overlap(a.box, legend))
        problems.push(`${gd.id}: "${a.text}" is under the legend`);
    }
    const loose = labels.filter(a => !a.legend);
    for (let i = 0; i < loose.length; i++)
      for (let j = i + 1; j < loose.length; j++)
        if (overlap(loose[i].box, loose[j].box))
          problems.push(`${gd.id}: "${loose[i].text}" overlaps "${loose[j].text}"`);
    figures.push({id: gd.id, labels: labels.length,
                  types: gd._fullData.map(t => t.type), drawn: gd._fullData.map(t => t.visible)});
  }
  for (const svg of document.querySelectorAll('svg.sankey')) {
    const outer = boxOf(svg);
    const texts = [...svg.querySelectorAll('tspan, text.col-title')]
      .map(e => ({text: e.textContent, box: boxOf(e)}));
    for (const a of texts) if (!inside(a.box, outer)) problems.push(`sankey: "${a.text}" is cut`);
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++)
        if (overlap(texts[i].box, texts[j].box))
          problems.push(`sankey: "${texts[i].text}" overlaps "${texts[j].text}"`);
    figures.push({id: 'sankey', labels: texts.length});
  }
  const sideways = document.documentElement.scrollWidth > window.innerWidth;
  if (sideways) problems.push(`the page scrolls sideways to ${document.body.scrollWidth} px`);
  return {problems, figures};
}
"""


@pytest.fixture(scope="module")
def browser(playwright_driver):
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def long_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("browser"), None, LONG_NAMES)


def render(browser, path: Path, shot: str) -> dict:
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function(
        "[...document.querySelectorAll('.js-plotly-plot')].every(g => g.querySelector('.main-svg'))"
    )
    page.wait_for_timeout(300)  # plotly's automargin redraws once after the first paint
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-top.png"))
    page.screenshot(path=str(ARTIFACTS / f"{shot}-full.png"), full_page=True)
    measured = page.evaluate(MEASURE)
    page.close()
    assert errors == [], errors
    assert requests == [path.as_uri()], requests  # nothing but the file itself
    return measured


def test_version_report_renders_with_nothing_cut_or_overlapping(long_ws, browser):
    out = long_ws.root.parent / "version.html"
    result = long_ws.report("marketing@1", out)
    measured = render(browser, out, "report-version")
    assert measured["problems"] == []
    plotted = {f["id"]: f for f in measured["figures"] if f["id"] != "sankey"}
    assert sorted(plotted) == sorted(f"fig-{name}" for name in result["figures"])
    for figure in plotted.values():
        assert figure["labels"] > 0, figure
        # every trace is of a type the basic bundle draws, and is drawn
        assert set(figure["types"]) <= {"scatter", "bar"}, figure
        assert all(v is True for v in figure["drawn"]), figure


def test_diff_report_renders_with_nothing_cut_or_overlapping(long_ws, browser):
    out = long_ws.root.parent / "diff.html"
    long_ws.report("marketing@1", out, diff="marketing@2")
    measured = render(browser, out, "report-diff")
    assert measured["problems"] == []
    assert [f["id"] for f in measured["figures"]] == ["sankey"]
    assert measured["figures"][0]["labels"] >= 2 * 5  # two titles, two lines per node


def test_the_measure_sees_a_cut_label(browser, tmp_path):
    """The check above can fail: a figure whose tick labels are cut by a fixed margin."""
    import plotly.graph_objects as go

    from segtrail.report.html import _html, _render

    fig = go.Figure(go.Bar(x=[1, 2], y=[LONG_NAMES[1], "short"], orientation="h"))
    fig.update_layout(height=300, margin={"l": 20}, yaxis_automargin=False)
    page = _render("base.html", {"title": "t", "figures": {"x": _html(fig, "x")}})
    page = page.replace("<main>\n", "<main>" + str(_html(fig, "x")))
    out = tmp_path / "cut.html"
    out.write_text(page)
    measured = render(browser, out, "report-cut-check")
    assert any("is cut by the figure" in p for p in measured["problems"])
