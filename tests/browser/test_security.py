"""Security of the pages, checked in Chromium and against the live server.

- XSS: payloads in every user-written field (segment names and descriptions, hypotheses,
  strategy messages, offers, owners and channels, rationales, tags, a dataset's column names,
  a campaign file's values) render inert on the thread, campaign, audience and history pages:
  no injected script runs (a `window.__xss` flag stays undefined, no dialog opens), no
  injected element or event-handler attribute exists in the DOM, and the payload shows as text.
- CSRF: a form post without the session's token (or with a wrong one) is refused with 403
  and changes nothing; a viewer's post and an analyst's post outside their lenses are refused.
- Path traversal in names (campaigns, audiences, strategies, uploaded file names) is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from browser.conftest import DESKTOP, PHONE
from browser.pages2_story import signed_in

# Each payload marks its element with data-xss, so the DOM check finds any that got through.
SCRIPT = "<script data-xss>window.__xss = 'script'</script>"
IMG = "<img src=x data-xss onerror=\"window.__xss='img';alert('xss')\">"
SVG = '"><svg data-xss onload="window.__xss=\'svg\'"></svg>'
IFRAME = "</textarea><iframe data-xss srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>"
HTMX = '<div data-xss hx-get="/events" hx-trigger="load">htmx</div>'
COLUMN = "<img src=y data-xss onerror=alert(2)>"  # a column name of the uploaded customer file
LENS, PRODUCT, STRATEGY, CAMPAIGN = "p2x", "p2xprod", "p2x-strat", "p2x-camp"


@pytest.fixture(scope="module")
def hostile(server) -> dict:
    """A workspace history full of payloads, written through the Python API."""
    from segtrail.services.workspace import Workspace

    folder = server.workspace.parent / "pages2-xss"
    marker = folder / "done.json"
    if marker.exists():
        return json.loads(marker.read_text())
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    n = 400
    side = np.repeat([0.0, 10.0], n // 2)
    frame = pd.DataFrame(
        {
            "customer_id": [f"x{i:04d}" for i in range(n)],
            "a": side + rng.normal(0, 0.3, n),
            COLUMN: np.tile([0.0, 10.0], n // 2) + rng.normal(0, 0.3, n),
        }
    )
    customers = folder / "hostile.csv"
    frame.to_csv(customers, index=False)
    with Workspace.open(server.workspace, author="mallory") as ws:
        ws.ingest(customers, "customer_id", name="p2xdata")
        ws.segment("p2xdata", LENS, f"first {SCRIPT}", features=["a"], algorithm="kmeans", k=2)
        ws.segment("p2xdata", LENS, f"second {IMG}", features=["a", COLUMN], k=4)
        ws.segment("p2xdata", PRODUCT, f"product {HTMX}", features=[COLUMN], k=2)
        for segment in (0, 1):
            ws.name(f"{LENS}@1", segment, f"{IMG} {segment}", description=SVG)
            ws.name(f"{LENS}@2", segment, f"{SVG} {segment}")
        ws.tag(f"{PRODUCT}@1", 0, "fit", IFRAME)
        ws.strategy_add(STRATEGY, f"message {IMG}", [SCRIPT], offer=SVG, owner=HTMX)
        ws.plan_map(STRATEGY, f"{LENS}@1", [0], rationale=f"because {IFRAME}")
        sends = pd.DataFrame(
            {
                "customer_id": frame["customer_id"],
                "group": np.where(np.arange(n) % 2 == 0, "treatment", "control"),
                "responded": (rng.random(n) < 0.2).astype(int),
            }
        )
        sends.to_csv(folder / "sends.csv", index=False)
        ws.campaign_import(folder / "sends.csv", CAMPAIGN, STRATEGY)
    data = {"sends": str(folder / "sends.csv")}
    marker.write_text(json.dumps(data))
    return data


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    """A 1280 px page signed in as ana (an admin)."""
    page = signed_in(browser, server, "ana", DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, server) -> Iterator[Page]:
    """A 390 px page signed in as ana."""
    page = signed_in(browser, server, "ana", PHONE)
    yield page
    page.context.close()


def watch(page: Page) -> list[str]:
    """Every dialog an injected alert() would open (dismissed, and remembered)."""
    fired: list[str] = []

    def on_dialog(dialog) -> None:
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


INJECTED = """() => {
  const handlers = [];
  for (const el of document.querySelectorAll('main *, header *')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) handlers.push(el.tagName + ' ' + attr.name);
    }
  }
  return {
    flag: typeof window.__xss,
    marked: document.querySelectorAll('[data-xss]').length,
    iframes: document.querySelectorAll('iframe').length,
    inlineScriptsInMain: document.querySelectorAll('main script:not([src])').length,
    handlers,
  };
}"""

HOSTILE_PAGES = [
    (f"/diff?a={LENS}%401&b={LENS}%402", [f"{IMG} 0", f"{SVG} 1"]),
    (f"/compare?a={LENS}%401&b={PRODUCT}%401&flag={quote('fit=' + IFRAME)}", [IFRAME]),
    (f"/why/{STRATEGY}", [f"message {IMG}", f"because {IFRAME}", SVG, HTMX, SCRIPT]),
    (f"/why/segment/{LENS}%401/0", [f"{IMG} 0", SVG, f"first {SCRIPT}", IFRAME]),
    ("/why?customer=x0000", [f"{IMG} 0", f"second {IMG}", f"product {HTMX}"]),
    ("/campaigns", [CAMPAIGN]),
    (f"/campaigns/{CAMPAIGN}?by={LENS}%401", [f"{IMG} 0"]),
    ("/audiences", [f"{SVG} 1"]),
    ("/events?q=script", [SCRIPT]),
    ("/events", [f"{IMG} 0", IFRAME]),
]


@pytest.mark.parametrize(("path", "shown"), HOSTILE_PAGES, ids=[p for p, _ in HOSTILE_PAGES])
def test_payloads_render_inert(page: Page, server, hostile: dict, path: str, shown) -> None:
    fired = watch(page)
    page.goto(server.url + path)
    page.wait_for_load_state("networkidle")
    found = page.evaluate(INJECTED)
    assert found == {
        "flag": "undefined",
        "marked": 0,
        "iframes": 0,
        "inlineScriptsInMain": 0,  # figures travel as JSON (data-figure), the Sankey as SVG
        "handlers": [],
    }, path
    assert fired == [], path
    text = page.locator("main").text_content()  # folded <details> too
    for payload in shown:  # shown as the text it is
        assert payload in text, f"{path}: {payload!r} not shown as text"
    assert not page.errors, page.errors


CSP_PAGES = [f"/versions/{LENS}%401", f"/diff?a={LENS}%401&b={LENS}%402", "/", "/events"]


@pytest.mark.parametrize("path", CSP_PAGES)
def test_pages_work_under_the_content_security_policy(page: Page, server, hostile, path) -> None:
    """The server's policy allows scripts from its own files only: the pages, htmx and the
    charts work without a single violation (Chromium reports each on the console)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    answer = page.goto(server.url + path)
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    if path.startswith("/versions/"):
        # the report's figures, drawn by plotly.js from the JSON htmx brought in
        expect(page.locator("#charts .js-plotly-plot").first).to_be_visible(timeout=60_000)
        expect(page.locator("#charts .js-plotly-plot .main-svg").first).to_be_attached()
    if path.startswith("/diff"):
        expect(page.locator("#fig-sankey svg.sankey rect.node").first).to_be_attached()
    assert violations == [], violations
    assert not page.errors, page.errors


def test_payload_in_a_campaign_file_value_is_inert(
    page: Page, server, hostile: dict, tmp_path: Path
) -> None:
    """The error message quotes the bad value; it shows as text, not as markup."""
    fired = watch(page)
    bad = tmp_path / "hostile-sends.csv"
    bad.write_text(f'customer_id,group,responded\nx0001,"{IMG}",1\n')
    page.goto(server.url + "/campaigns")
    page.get_by_label("Results file").set_input_files(str(bad))
    page.get_by_label("Campaign name").fill("p2x-bad")
    page.get_by_label("Strategy it carried out").select_option(STRATEGY)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#upload-error")).to_contain_text("column 'group'")
    assert "<img src=x data-xss" in page.locator("#upload-error").inner_text()
    found = page.evaluate(INJECTED)
    assert (found["flag"], found["marked"], found["handlers"]) == ("undefined", 0, [])
    assert fired == []


def plan_revision(server, version: str) -> int:
    """Read in this process (a CLI process per read costs ~3 s here)."""
    from segtrail.services.workspace import Workspace

    with Workspace.open(server.workspace) as ws:
        return ws.plan_show(version)["revision"]


def campaign_names(server) -> list[str]:
    from segtrail.services.workspace import Workspace

    with Workspace.open(server.workspace) as ws:
        return [c["campaign"] for c in ws.campaigns()]


def csrf_token(page: Page) -> str:
    return page.locator("input[name=csrf_token]").first.input_value()


def test_form_post_without_csrf_token_is_refused(page: Page, server, hostile: dict) -> None:
    # an admin (the page fixture): only the missing token stops the post
    page.goto(server.url + f"/diff?a={LENS}%401&b={LENS}%402")
    token = csrf_token(page)
    assert token
    before = plan_revision(server, f"{LENS}@2")
    form = {"a": f"{LENS}@1", "b": f"{LENS}@2"}
    for extra in ({}, {"csrf_token": "forged" + token[6:]}):
        answer = page.request.post(server.url + "/diff/apply", form={**form, **extra})
        assert answer.status == 403, extra
        assert "CSRF" in answer.text()
    assert plan_revision(server, f"{LENS}@2") == before
    # a multipart upload without the token: refused, nothing imported
    answer = page.request.post(
        server.url + "/campaigns",
        multipart={
            "file": {"name": "s.csv", "mimeType": "text/csv",
                     "buffer": Path(hostile["sends"]).read_bytes()},
            "name": "p2x-csrf",
            "strategy": STRATEGY,
        },
    )  # fmt: skip
    assert answer.status == 403
    assert "p2x-csrf" not in campaign_names(server)
    # with the token, the same post goes through (the refusals above were the token's doing)
    answer = page.request.post(server.url + "/diff/apply", form={**form, "csrf_token": token})
    assert answer.ok
    assert plan_revision(server, f"{LENS}@2") == before + 1


@pytest.mark.parametrize("user", ["viv", "max"])  # a viewer; an analyst of marketing only
def test_posts_outside_ones_rights_are_refused(browser, server, hostile: dict, user) -> None:
    page = signed_in(browser, server, user, DESKTOP)
    page.goto(server.url + f"/diff?a={LENS}%401&b={LENS}%402")
    expect(page.get_by_role("button", name=f"Carry the plan onto {LENS}@2")).to_have_count(0)
    token = csrf_token(page)
    before = plan_revision(server, f"{LENS}@2")
    answer = page.request.post(
        server.url + "/diff/apply", form={"a": f"{LENS}@1", "b": f"{LENS}@2", "csrf_token": token}
    )
    assert answer.status == 403
    answer = page.request.post(
        server.url + "/diff/review",
        form={"a": f"{LENS}@1", "b": f"{LENS}@2", "strategy": STRATEGY, "choice": "remove",
              "csrf_token": token},
    )  # fmt: skip
    assert answer.status == 403
    assert plan_revision(server, f"{LENS}@2") == before
    if user == "viv":  # a viewer writes nothing, campaigns included
        answer = page.request.post(
            server.url + "/campaigns/holdout", form={"share": "5", "csrf_token": token}
        )
        assert answer.status == 403


TRAVERSALS = [
    "/campaigns/..%2F..%2F..%2Fetc%2Fpasswd",
    "/campaigns/%2E%2E/design.csv",
    "/audiences/..%2F..%2Fsecret/download.csv",
    "/why/..%2F..%2F..%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_in_names_is_refused(page: Page, server, path: str) -> None:
    answer = page.request.get(server.url + path)
    assert 400 <= answer.status < 500, (path, answer.status)
    assert "root:" not in answer.text()


def test_traversal_in_upload_names(page: Page, server, hostile: dict, tmp_path: Path) -> None:
    page.goto(server.url + "/campaigns")
    token = csrf_token(page)
    data = Path(hostile["sends"]).read_bytes()
    escape = tmp_path / "escaped.csv"
    # a campaign name with a path in it: refused with the CLI's message, nothing recorded
    answer = page.request.post(
        server.url + "/campaigns",
        multipart={"file": {"name": "s.csv", "mimeType": "text/csv", "buffer": data},
                   "name": "../../p2x-up", "strategy": STRATEGY, "csrf_token": token},
    )  # fmt: skip
    assert answer.status == 422
    assert "invalid campaign name" in answer.text()
    # a file name with a path in it: only its base name is used, nothing lands outside
    answer = page.request.post(
        server.url + "/campaigns",
        multipart={"file": {"name": f"../../../..{escape}", "mimeType": "text/csv",
                            "buffer": data},
                   "name": "p2x-upload", "strategy": STRATEGY, "csrf_token": token},
    )  # fmt: skip
    assert answer.ok
    assert not escape.exists()
    names = campaign_names(server)
    assert "p2x-upload" in names and "../../p2x-up" not in names
