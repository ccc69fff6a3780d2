"""The whole story through the pages, as a non-coder plays it, in a real Chromium against a
real `segtrail serve`: sign in, upload customers, segment with a hypothesis, name a segment,
add strategies and map them, re-segment on newer data, segment a product lens, and read
everything back. Each page is also opened at phone width (390 px): it must not overflow
sideways, and a screenshot of it at both widths goes to tests/artifacts/.

The steps depend on each other (one story), so they run in one test, each step named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import (
    LiveServer,
    assert_fits,
    assert_labelled,
    sign_in,
    snap,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def story_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own: the story starts from an empty workspace, whatever the other
    browser tests recorded on the shared one."""
    live = start_server(tmp_path_factory.mktemp("story"), users=(("ana", "admin", ()),))
    yield live
    stop_server(live)


class Story:
    """The desktop page the story is played on, and a phone beside it that opens every page
    the story reaches, to check the small-screen layout."""

    def __init__(self, page: Page, phone: Page, server: LiveServer) -> None:
        self.page, self.phone, self.server = page, phone, server

    def look(self, name: str) -> None:
        """The current page fits at 1280 px and at 390 px, its fields are labelled;
        screenshots of both widths."""
        self.page.wait_for_load_state("networkidle")
        assert_fits(self.page)
        assert_labelled(self.page)
        snap(self.page, f"{name}-1280")
        self.phone.goto(self.page.url)
        self.phone.wait_for_load_state("networkidle")
        assert_fits(self.phone)
        snap(self.phone, f"{name}-390")
        assert not self.page.errors, self.page.errors  # type: ignore[attr-defined]
        assert not self.phone.errors, self.phone.errors  # type: ignore[attr-defined]

    def go(self, path: str) -> None:
        self.page.goto(self.server.url + path)


def upload(page: Page, path: Path, id_column: str, name: str = "") -> None:
    page.get_by_role("link", name="Customer data").click()
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_label("Column that identifies a customer").fill(id_column)
    if name:
        page.get_by_label("Dataset name (optional)").fill(name)
    page.get_by_role("button", name="Upload and check").click()


def wait_for_version(page: Page, ref: str) -> None:
    """The job page follows the work and moves on to the new version when it is done."""
    page.wait_for_load_state()
    alerts = page.get_by_role("alert")
    assert alerts.count() == 0, f"{page.url}: {alerts.all_inner_texts()}"
    expect(page).to_have_url(re.compile(re.escape(ref) + r"\?new=1$"), timeout=120_000)
    expect(page.get_by_role("heading", level=1)).to_contain_text(ref)


def test_the_whole_story(
    page: Page, phone: Page, story_server: LiveServer, story_data: Path
) -> None:
    server = story_server
    story = Story(page, phone, server)

    # --- sign in ------------------------------------------------------------------------
    story.go("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))  # not signed in: sent to sign in
    story.look("sign-in")
    page.get_by_label("Your user name").fill("ana")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    sign_in(page, server, "ana")
    sign_in(phone, server, "ana")
    # keyboard: the first Tab reaches the skip link, which jumps over the navigation
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    expect(page.get_by_role("heading", name="Start here")).to_be_visible()  # empty workspace
    story.look("home-empty")

    # --- upload customers, with a mistake first ---------------------------------------
    upload(page, story_data / "customers.csv", "customer_no")
    expect(page.get_by_role("alert")).to_contain_text("customer_no")  # the ingest's message
    story.look("datasets-error")
    upload(page, story_data / "customers.csv", "customer_id")
    expect(page.get_by_role("heading", level=1)).to_have_text("customers@1")
    expect(page.get_by_role("status")).to_contain_text("1,500 customers")
    expect(page.get_by_role("row", name=re.compile(r"^annual_spend numeric"))).to_contain_text(
        "mean"
    )
    story.look("dataset")

    # --- segment with a hypothesis -----------------------------------------------------
    page.get_by_role("link", name="Segment these customers").click()
    page.get_by_label("Lens (whose view is this?)").fill("marketing")
    page.get_by_role("checkbox", name=re.compile(r"^region")).uncheck()
    page.get_by_label("Number of segments").fill("4")
    page.get_by_label("How to find the segments").select_option("kmeans")
    page.get_by_label("Hypothesis").fill(
        "Behaviour splits app-first young buyers from email-first older ones"
    )
    story.look("segment-form")
    page.get_by_role("button", name="Segment customers").click()
    wait_for_version(page, "marketing@1")
    expect(page.get_by_text("Hypothesis: Behaviour splits app-first")).to_be_visible()
    expect(page.locator(".facts").first).to_contain_text("4 segments")
    expect(page.get_by_text(re.compile(r"Quality: .*silhouette"))).to_be_visible()
    cards = page.locator("article.card")
    expect(cards).to_have_count(4)
    expect(page.locator("#charts figure").first).to_be_visible(timeout=60_000)  # report charts
    expect(page.locator("#charts .js-plotly-plot").first).to_be_visible()
    story.look("version")
    snap(phone, "docs-server-phone", full_page=False)

    # --- name a segment in place (htmx: the card changes, the page does not reload) ---
    page.evaluate("window.__same_page = true")
    card = page.locator("#segment-0")
    card.get_by_text("Rename or tag").click()
    card.get_by_label("Name of segment 0").fill("Young app natives")
    card.get_by_role("button", name="Save name").click()
    expect(page.locator("#seg-0-name")).to_have_text("Young app natives")
    assert page.evaluate("window.__same_page") is True
    card = page.locator("#segment-1")
    card.get_by_text("Rename or tag").click()
    card.get_by_label("Tag").fill("tier")
    card.get_by_label("Value (empty removes it)").fill("gold")
    card.get_by_role("button", name="Save tag").click()
    expect(page.locator("#segment-1 .badge.warn")).to_have_text("tier=gold")
    page.reload()  # recorded, not just drawn
    expect(page.locator("#seg-0-name")).to_have_text("Young app natives")
    page.get_by_role("button", name=re.compile("^Adopt")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("adopted")

    # --- strategies on the plan board ---------------------------------------------------
    page.get_by_role("link", name="Plan board").first.click()
    expect(page.get_by_text("Nothing mapped yet")).to_be_visible()
    page.get_by_label("Short name").fill("app-push")
    page.get_by_label("Message").fill("New features first, in the app")
    page.get_by_label("Channels").fill("TikTok, push")
    page.get_by_role("button", name="Add strategy").click()
    page.get_by_label("Strategy", exact=True).select_option("app-push")
    page.get_by_role("checkbox", name=re.compile("^Young app natives")).check()
    page.get_by_label("Rationale").fill("young, app-first")
    page.get_by_role("button", name="Map strategy").click()
    board = page.locator("table.matrix")
    expect(board.get_by_role("row", name=re.compile("^app-push"))).to_contain_text("active")
    expect(board.get_by_label("targets Young app natives")).to_have_count(1)
    page.get_by_label("Short name").fill("newsletter")
    page.get_by_label("Message").fill("What's new this month")
    page.get_by_label("Channels").fill("email")
    page.get_by_role("button", name="Add strategy").click()
    page.get_by_label("Strategy", exact=True).select_option("newsletter")
    page.get_by_label("All customers (one strategy for everyone)").check()
    page.get_by_label("Rationale").fill("the same message for everyone")
    page.get_by_role("button", name="Map strategy").click()
    expect(board.get_by_role("row", name=re.compile("^newsletter"))).to_contain_text(
        "all customers"
    )
    expect(page.get_by_text("Active strategies reach 1,500 of 1,500 customers")).to_be_visible()
    history = page.locator("ol.timeline")
    expect(history).to_contain_text("revision 2")
    expect(history).to_contain_text("mapped newsletter to all segments")
    # a mapping without a rationale is refused with a message, nothing recorded
    page.get_by_label("Strategy", exact=True).select_option("app-push")
    page.get_by_label("Rationale").fill("")
    page.locator("#map-rationale").evaluate("el => el.removeAttribute('required')")
    page.get_by_role("button", name="Map strategy").click()
    expect(page.get_by_role("alert")).to_contain_text("rationale")
    expect(history.locator("li")).to_have_count(2)
    story.go("/plans/marketing@1")  # the board itself (the refused post answered at .../map)
    story.look("plan")
    snap(page, "docs-server-plan", full_page=False)
    story.go("/versions/marketing@1")
    page.locator("#segment-0").scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    snap(page, "docs-server-version", full_page=False)

    # --- re-segment: newer data, the same hypothesis ------------------------------------
    upload(page, story_data / "customers_later.csv", "customer_id", name="customers")
    expect(page.get_by_role("heading", level=1)).to_have_text("customers@2")
    story.go("/versions/marketing@1")
    page.get_by_label("Same hypothesis on newer data").select_option("customers@2")
    page.get_by_role("button", name="Re-run on this data").click()
    wait_for_version(page, "marketing@2")
    expect(page.get_by_text(re.compile("revising marketing@1"))).to_be_visible()

    # --- carry the plan forward, reviewing what needs a decision ------------------------
    page.get_by_role("link", name="how customers moved from marketing@1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("marketing@1 → marketing@2")
    expect(page.locator("#carry-table")).to_contain_text("app-push")
    story.look("diff")
    page.get_by_role("button", name="Carry the plan onto marketing@2").click()
    expect(page.get_by_text("This plan was carried onto marketing@2")).to_be_visible()
    for item in page.locator("#needs-review > li").all():  # decide each one explicitly
        item.get_by_label("Keep it, active on the proposed segments").check()
        item.get_by_role("button", name="Record the decision").click()
    expect(page.locator("#no-review")).to_be_visible()
    story.go("/plans/marketing@2")
    board = page.locator("table.matrix")
    expect(board.get_by_role("row", name=re.compile("^app-push"))).to_contain_text("active")
    expect(board.get_by_role("row", name=re.compile("^newsletter"))).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("carried from marketing@1")

    # --- a second lens: product -----------------------------------------------------------
    page.get_by_role("link", name="New segmentation").click()
    page.get_by_label("Lens (whose view is this?)").fill("product")
    features = page.locator("#features input[type=checkbox]")
    for i in range(features.count()):
        features.nth(i).uncheck()
    for name in (
        "app_sessions_per_month",
        "web_visits_per_month",
        "support_tickets",
        "return_rate",
    ):
        page.get_by_role("checkbox", name=re.compile(f"^{name}")).check()
    page.get_by_label("How to find the segments").select_option("kmeans")
    page.get_by_label("Number of segments").fill("3")
    page.get_by_label("Hypothesis").fill("Product engagement: app and web use, support, returns")
    page.get_by_role("button", name="Segment customers").click()
    wait_for_version(page, "product@1")
    expect(page.locator("article.card")).to_have_count(3)
    card = page.locator("#segment-2")
    card.get_by_text("Rename or tag").click()
    card.get_by_label("Tag").fill("fit")
    card.get_by_label("Value (empty removes it)").fill("poor")
    card.get_by_role("button", name="Save tag").click()
    expect(page.locator("#segment-2 .badge.warn")).to_have_text("fit=poor")

    # --- compare the lenses ---------------------------------------------------------------
    page.get_by_role("navigation").get_by_role("link", name="Compare lenses").click()
    page.get_by_label("First lens or version").fill("marketing")
    page.get_by_label("Second lens or version").fill("product")
    page.get_by_label("Flag segments of the second tagged").fill("fit=poor")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="Where they clash")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Customers in each pair"))).to_be_visible()
    story.look("compare")

    # --- a campaign: import who got what and who responded, read the uplift -------------
    page.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
    form = page.get_by_role("region", name="Import campaign results")
    form.get_by_label("Results file").set_input_files(str(story_data / "sends.csv"))
    form.get_by_label("Campaign name").fill("q1-push")
    form.get_by_label("Strategy it carried out").select_option("app-push")
    form.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("q1-push")
    expect(page.get_by_role("heading", name="Did it help?")).to_be_visible()
    uplift = page.locator("#uplift")
    expect(uplift).to_contain_text("Young app natives")
    expect(uplift.locator("tbody tr").first).to_be_visible()
    story.look("campaign")

    # --- a lookalike audience, then an export with its provenance ------------------------
    page.get_by_role("navigation").get_by_role("link", name="Audiences").click()
    seed = page.get_by_label("Seed: the segment(s) to look like")
    first_seed = seed.locator("option").first.get_attribute("value")
    seed.select_option(first_seed)
    page.get_by_label("Audience size").fill("10%")
    page.get_by_label("Audience name (optional)").fill("look-alike-1")
    page.get_by_role("button", name="Build the audience").click()
    expect(page.get_by_text("look-alike-1").first).to_be_visible(timeout=120_000)
    story.go("/audiences")
    story.look("audiences")
    with page.expect_download() as download_info:
        page.get_by_label("Segments (of one version)").select_option(first_seed)
        page.get_by_role("button", name="Export and download").click()
    download = download_info.value
    exported = Path(download.path()).read_text()
    assert exported.splitlines()[0], "the export has a header line"
    assert len(exported.splitlines()) > 10

    # --- home: everything at a glance ---------------------------------------------------
    page.get_by_role("navigation").get_by_role("link", name="Home").click()
    lenses = page.locator("table").first
    expect(lenses.get_by_role("row", name=re.compile("^marketing"))).to_contain_text("marketing@1")
    expect(lenses.get_by_role("row", name=re.compile("^marketing"))).to_contain_text("marketing@2")
    expect(lenses.get_by_role("row", name=re.compile("^product"))).to_contain_text("product@1")
    expect(page.get_by_text("“New features first, in the app”")).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("ana")
    story.look("home")
    story.go("/plans")
    story.look("plans")
