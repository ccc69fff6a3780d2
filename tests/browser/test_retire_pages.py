"""Retire and restore in Chromium, as a person does it: open the disclosure, read what
retiring means, confirm, see the object marked retired with a Restore button, restore it.
A viewer sees why they cannot and is refused (403) when they post the form anyway. Then every
page, at 1280 px and at 390 px: nothing overflows sideways and every form field has a label
(screenshots under tests/artifacts/).

Runs on the shared browser server, with objects of its own (a dataset and a strategy nobody
else uses), beside the planted story of pages2_story.py for the other pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import DESKTOP, PHONE, assert_fits, assert_labelled, snap
from browser.pages2_story import STRATEGY, Story, build, signed_in

pytestmark = pytest.mark.browser

DATASET = "retire-demo"
RETIREE = "retire-me"
# One long unbroken name (names may have 200 characters): a phone must wrap it, not scroll.
LONG = "quarterly-reactivation-offer-for-lapsed-app-customers-north-region-2026-v2"


@pytest.fixture(scope="module")
def story(server) -> Story:
    """The planted story, plus a dataset, a strategy and a campaign of this module's own."""
    from segtrail.services.workspace import Workspace

    story = build(server)
    with Workspace.open(server.workspace, author="setup") as ws:
        if not any(d.name == DATASET for d in ws.datasets(include_retired=True)):
            ws.ingest(story.customers, "customer_id", name=DATASET)
        if not any(s.name == RETIREE for s in ws.strategies(include_retired=True)):
            ws.strategy_add(RETIREE, "Last season's offer", ["email"], owner="Lea")
        if not any(s.name == LONG for s in ws.strategies(include_retired=True)):
            ws.strategy_add(LONG, "A long-named strategy", ["email", "push"])
        if not any(d.name == LONG for d in ws.datasets(include_retired=True)):
            ws.ingest(story.customers, "customer_id", name=LONG)
        if not any(c.campaign == "sweep-push" for c in ws.campaigns()):
            ws.campaign_import(story.sends, "sweep-push", STRATEGY)
    return story


def person(browser, server, name: str, viewport: dict) -> Iterator[Page]:
    page = signed_in(browser, server, name, viewport)
    yield page
    page.context.close()


@pytest.fixture
def ana(browser, server) -> Iterator[Page]:
    """An admin at 1280 px."""
    yield from person(browser, server, "ana", DESKTOP)


@pytest.fixture
def viv(browser, server) -> Iterator[Page]:
    """A viewer at 1280 px."""
    yield from person(browser, server, "viv", DESKTOP)


def test_retire_and_restore_a_dataset_through_its_page(ana: Page, server, story: Story) -> None:
    page = ana
    page.goto(f"{server.url}/datasets/{DATASET}")
    expect(page.get_by_role("link", name="Segment these customers")).to_be_visible()
    confirm = page.get_by_role("button", name=f"Yes, retire {DATASET}")
    expect(confirm).to_be_hidden()  # nothing happens on one click: the disclosure asks first
    page.get_by_text(f"Retire {DATASET}…").click()
    explanation = page.locator("#retire-dataset details p").first
    expect(explanation).to_contain_text("stops new segmentations from using it")
    expect(explanation).to_contain_text("Nothing is deleted")
    expect(explanation).to_contain_text("you can restore it at any time")
    page.get_by_label("Why (optional, shown next to it)").fill("replaced by a newer export")
    snap(page, "retire-dataset-confirm")
    confirm.click()

    expect(page.get_by_role("status")).to_contain_text(f"Retired customer data {DATASET}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("retired")
    expect(page.get_by_role("link", name="Segment these customers")).to_have_count(0)
    expect(page.locator("#retire-dataset")).to_contain_text("by ana: “replaced by a newer export”")
    snap(page, "retire-dataset-retired")
    # off the list of customer data, listed under Retired with the way back
    page.get_by_role("navigation").get_by_role("link", name="Customer data").click()
    listed = page.get_by_role("table").get_by_role("link", name=re.compile(f"^{DATASET}@"))
    expect(listed).to_have_count(0)
    retired = page.locator(f"#retired-{DATASET}")
    expect(retired).to_contain_text("retired on")
    retired.get_by_role("button", name=f"Restore {DATASET}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Restored customer data {DATASET}")
    expect(listed).to_have_count(1)
    page.goto(f"{server.url}/datasets/{DATASET}")
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("retired")
    expect(page.get_by_role("link", name="Segment these customers")).to_be_visible()


def test_retire_and_restore_a_strategy_from_the_strategies_page_and_home(
    ana: Page, server, story: Story
) -> None:
    page = ana
    page.goto(f"{server.url}/plans")
    page.get_by_role("link", name="See every strategy, retire or restore one").click()
    card = page.locator(f"#strategy-{RETIREE}")
    expect(card).to_contain_text("Last season's offer")
    card.get_by_text(f"Retire {RETIREE}…").click()
    expect(card).to_contain_text("the plans that map it keep it")
    card.get_by_role("button", name=f"Yes, retire {RETIREE}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Retired strategy {RETIREE}")
    card = page.locator(f"#strategy-{RETIREE}")
    expect(card.get_by_role("heading")).to_contain_text("retired")
    # it can no longer be chosen on a plan board
    page.goto(f"{server.url}/plans/p2mkt@1")
    expect(page.locator(f'#map-strategy option[value="{RETIREE}"]')).to_have_count(0)
    # home lists it, marked retired, with Restore
    page.get_by_role("navigation").get_by_role("link", name="Home").click()
    item = page.locator(f"#home-strategy-{RETIREE}")
    expect(item).to_contain_text("retired on")
    snap(page, "retire-strategy-home")
    item.get_by_role("button", name=f"Restore {RETIREE}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Restored strategy {RETIREE}")
    expect(page.locator(f"#home-strategy-{RETIREE}")).to_have_count(0)
    page.goto(f"{server.url}/plans/p2mkt@1")
    expect(page.locator(f'#map-strategy option[value="{RETIREE}"]')).to_have_count(1)


def test_a_viewer_sees_why_not_and_posting_the_form_is_refused(
    viv: Page, server, story: Story
) -> None:
    page = viv
    page.goto(f"{server.url}/datasets/{DATASET}")
    expect(page.locator("#retire-dataset")).to_contain_text(
        f"You cannot retire {DATASET}: viv is a viewer and can only read"
    )
    expect(page.get_by_text(f"Retire {DATASET}…")).to_have_count(0)
    # the form posted anyway, with her session's own CSRF token: refused, nothing recorded
    page.evaluate(
        """([name]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = '/datasets/' + name + '/retire';
            const token = document.querySelector('input[name=csrf_token]').cloneNode();
            form.appendChild(token);
            document.body.appendChild(form);
            form.submit();
        }""",
        [DATASET],
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("alert")).to_contain_text("viv is a viewer")
    page.goto(f"{server.url}/datasets/{DATASET}")
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("retired")


def pages_to_sweep(server, story: Story) -> list[tuple[str, str]]:
    """(name, path) of every page a person reaches, with real content."""
    return [
        ("home", "/"),
        ("datasets", "/datasets"),
        ("dataset", f"/datasets/{DATASET}"),
        ("dataset-long-name", f"/datasets/{LONG}"),
        ("segment-form", "/segment"),
        ("version", "/versions/p2mkt@2"),
        ("plans", "/plans"),
        ("plan", "/plans/p2mkt@1"),
        ("strategies", "/strategies"),
        ("diff", "/diff?a=p2mkt@1&b=p2mkt@2"),
        ("compare-form", "/compare"),
        ("compare", "/compare?a=p2mkt&b=p2prod&flag=fit%3Dpoor"),
        ("campaigns", "/campaigns"),
        ("campaign", "/campaigns/sweep-push"),
        ("audiences", "/audiences"),
        ("events", "/events"),
        ("why-index", "/why"),
        ("why-strategy", f"/why/{STRATEGY}"),
        ("why-long-name", f"/why/{LONG}"),
        ("why-segment", "/why/segment/p2mkt@1/0"),
        ("why-customer", "/why?customer=c00001"),
        ("not-found", "/versions/nosuchlens@9"),
    ]


@pytest.mark.parametrize(("width", "viewport"), [("1280", DESKTOP), ("390", PHONE)])
def test_every_page_fits_and_labels_its_fields(
    browser, server, story: Story, width: str, viewport: dict
) -> None:
    page = signed_in(browser, server, "ana", viewport)
    problems: list[str] = []
    try:
        for name, path in pages_to_sweep(server, story):
            page.goto(server.url + path)
            page.wait_for_load_state("networkidle")
            for check in (assert_fits, assert_labelled):
                try:
                    check(page)
                except AssertionError as problem:
                    problems.append(str(problem))
            snap(page, f"sweep-{name}-{width}")
        assert not page.errors, page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)


def test_the_sign_in_page_fits_a_phone(browser, server) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(server.url + "/sign-in")
        assert_fits(page)
        assert_labelled(page)
        snap(page, "sweep-sign-in-390")
    finally:
        context.close()
