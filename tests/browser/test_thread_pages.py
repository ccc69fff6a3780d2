"""The thread pages in Chromium: how customers moved (Sankey, fates), carrying the plan with
one action, deciding the needs-review items, comparing lenses, why as a timeline, and the
event log's search. Every page is photographed at 1280 px and 390 px and must not overflow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import DESKTOP, PHONE, assert_fits, snap
from browser.pages2_story import EVERYONE, STRATEGY, Story, build, signed_in


@pytest.fixture(scope="module")
def story(server) -> Story:
    return build(server)


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


def plan(server, version: str) -> dict:
    """Read in this process (a CLI process per read costs ~3 s here)."""
    from segtrail.services.workspace import Workspace

    with Workspace.open(server.workspace) as ws:
        return ws.plan_show(version).to_dict()


def both_widths(page: Page, phone: Page, server, path: str, name: str) -> None:
    """Screenshots of `path` at both widths, neither overflowing sideways."""
    for p, width in ((page, "desktop"), (phone, "phone")):
        p.goto(server.url + path)
        assert_fits(p)
        snap(p, f"{name}-{width}")


def test_diff_carry_and_review(page: Page, phone: Page, server, story: Story) -> None:
    before = plan(server, "p2mkt@2")
    assert before["revision"] == 0 or not before["entries"]
    page.goto(server.url + "/diff?a=p2mkt@1&b=p2mkt@2")
    # the Sankey is the diff report's SVG (drawn on the server): its bars are on the page
    expect(page.locator("#fig-sankey svg.sankey rect.node").first).to_be_attached()
    fates = page.locator("#fates li")
    expect(fates).to_have_count(2)
    expect(page.locator('#fates li[data-fate="split"]')).to_have_count(2)
    expect(fates.first).to_contain_text("split into")
    push_row = page.locator(f'#carry-table tr[data-strategy="{STRATEGY}"]')
    expect(push_row).to_contain_text("needs review")
    expect(page.locator(f'#carry-table tr[data-strategy="{EVERYONE}"]')).to_contain_text("everyone")
    both_widths(page, phone, server, "/diff?a=p2mkt@1&b=p2mkt@2", "pages2-diff-proposal")

    page.get_by_role("button", name="Carry the plan onto p2mkt@2").click()
    expect(page.get_by_role("status")).to_contain_text("Carried the plan onto p2mkt@2")
    after = plan(server, "p2mkt@2")
    entries = {e["strategy"]: e for e in after["entries"]}
    assert set(entries) == {STRATEGY, EVERYONE}
    assert entries[STRATEGY]["status"] == "needs-review"
    assert entries[EVERYONE]["segments"] == "all"
    # the carried audience is what the page proposed: the two corners of the left side
    assert len(entries[STRATEGY]["segments"]) == 2
    review = page.locator(f'#needs-review li[data-strategy="{STRATEGY}"]')
    expect(review).to_contain_text("split")
    expect(page.get_by_role("button", name="Carry the plan onto p2mkt@2")).to_have_count(0)
    both_widths(page, phone, server, "/diff?a=p2mkt@1&b=p2mkt@2", "pages2-diff-review")

    # an explicit decision: keep it active on the proposed segments, with a reason
    page.goto(server.url + "/diff?a=p2mkt@1&b=p2mkt@2#review")
    review = page.locator(f'#needs-review li[data-strategy="{STRATEGY}"]')
    review.get_by_label("Keep it, active on the proposed segments").check()
    review.get_by_label("Why (kept with the plan)").fill("both corners still use the app")
    review.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_contain_text(f"Recorded your decision on {STRATEGY}")
    expect(page.locator("#needs-review")).to_have_count(0)
    decided = {e["strategy"]: e for e in plan(server, "p2mkt@2")["entries"]}[STRATEGY]
    assert decided["status"] == "active"
    assert decided["segments"] == entries[STRATEGY]["segments"]
    assert decided["rationale"] == "both corners still use the app"
    assert not page.errors, page.errors


def test_keyboard_reaches_the_apply_form(page: Page, server, story: Story) -> None:
    """The version pickers and the submit are reachable with Tab and labelled."""
    page.goto(server.url + "/diff")
    page.get_by_label("Older version").fill("p2mkt@1")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Newer version")).to_be_focused()
    page.keyboard.type("p2mkt@2")
    page.keyboard.press("Enter")
    expect(page.locator("#fates li").first).to_be_visible(timeout=30_000)


def test_compare_flags_the_clash(page: Page, phone: Page, server, story: Story) -> None:
    page.goto(server.url + "/compare")
    page.get_by_label("First lens or version").fill("p2mkt@1")
    page.get_by_label("Second lens or version").fill("p2prod@1")
    page.get_by_label("Flag segments of the second tagged").fill("fit=poor")
    page.get_by_role("button", name="Compare").click()
    clashes = page.locator("#clashes li")
    expect(clashes.first).to_contain_text("fit=poor")
    # both strategies of p2mkt@1 reach the poor-fit half (half of each p2mkt segment)
    expect(page.locator("#clashes")).to_contain_text(STRATEGY)
    expect(page.locator("#clashes")).to_contain_text(EVERYONE)
    # the lenses cut across each other: no p2mkt segment lies mostly in one p2prod segment
    expect(page.locator("#agreements li")).to_have_count(2)
    expect(page.locator("#agreements")).not_to_contain_text("agree ")
    expect(page.locator("#contingency tbody tr")).to_have_count(2)
    both_widths(
        page, phone, server, "/compare?a=p2mkt%401&b=p2prod%401&flag=fit%3Dpoor", "pages2-compare"
    )


def test_why_is_a_timeline(page: Page, phone: Page, server, story: Story) -> None:
    page.goto(server.url + f"/why/{STRATEGY}")
    expect(page.locator("#strategy-message")).to_contain_text("New in the app")
    cards = page.locator("article[data-version]")
    expect(cards.first).to_be_visible()
    expect(page.locator('article[data-version="p2mkt@1"]')).to_contain_text(
        "Left and right of the store"
    )
    expect(page.locator('article[data-version="p2mkt@1"]')).to_contain_text("Left side")
    items = page.locator("#timeline li")
    assert items.count() >= 2
    times = [t.get_attribute("datetime") for t in page.locator("#timeline time").all()]
    assert times == sorted(times, reverse=True)  # newest first
    expect(page.locator('#timeline li[data-kind="created"]')).to_have_count(1)
    both_widths(page, phone, server, f"/why/{STRATEGY}", "pages2-why")


def test_event_log_search(page: Page, phone: Page, server, story: Story) -> None:
    page.goto(server.url + "/events")
    page.get_by_label("Text").fill("Left side")
    page.get_by_label("What happened").select_option(label="segment renamed")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#events li[data-action]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Left side")
    expect(page.get_by_role("heading", name="1 event")).to_be_visible()
    page.goto(server.url + "/events?q=no-such-thing-anywhere")
    expect(page.locator("#events")).to_contain_text("Nothing matches")
    # pages: one event per page, the "Older" link walks back through the plan changes
    page.goto(server.url + "/events?action=plan-map&per_page=1")
    first = page.locator("#events li[data-action]").inner_text()
    page.get_by_role("link", name="Older").click()
    expect(page.get_by_role("heading", name="page 2 of")).to_be_visible()
    expect(page.locator("#events li[data-action]")).to_have_count(1)
    assert page.locator("#events li[data-action]").inner_text() != first
    page.get_by_role("link", name="Newer").click()
    assert page.locator("#events li[data-action]").inner_text() == first
    both_widths(page, phone, server, "/events", "pages2-events")


def test_why_for_a_customer_and_a_segment(page: Page, phone: Page, server, story: Story) -> None:
    page.goto(server.url + "/why")
    page.get_by_label("A customer's id").fill("c00000")  # blob (x=0, y=0): the left side
    page.get_by_role("button", name="Show their thread").click()
    first = page.locator('#customer-versions li[data-version="p2mkt@1"]')
    expect(first).to_contain_text(f"{story.push_segment} “Left side”")
    expect(first).to_contain_text(STRATEGY)
    expect(page.locator('#customer-versions li[data-version="p2prod@1"]')).to_be_visible()
    first.get_by_role("link", name=f"{story.push_segment} “Left side”").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("“Left side”")
    fate = page.locator('#timeline li[data-kind="fate"]')
    expect(fate).to_contain_text("in p2mkt@2: split")
    expect(fate).to_contain_text("(50%)")
    expect(page.locator('#timeline li[data-kind="plan"]').first).to_contain_text(STRATEGY)
    both_widths(page, phone, server, "/why?customer=c00000", "pages2-why-customer")
    both_widths(
        page, phone, server, f"/why/segment/p2mkt%401/{story.push_segment}", "pages2-why-segment"
    )
