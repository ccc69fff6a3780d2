"""Campaign and audience pages in Chromium: a campaign file uploaded through the form shows
its uplift per segment in words (the planted segment "helped", the others "no clear
effect"); a bad file gets the CLI's own message and records nothing; a design is recorded
and downloadable; a lookalike is built as a job with progress and its quality in words; an
audience export downloads with its provenance listed."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from browser.conftest import DESKTOP, PHONE, assert_fits, snap
from browser.pages2_story import STRATEGY, Story, build, signed_in
from segtrail.services.workspace import Workspace


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


def shots(page: Page, phone: Page, server, path: str, name: str) -> None:
    for p, width in ((page, "desktop"), (phone, "phone")):
        p.goto(server.url + path)
        assert_fits(p)
        snap(p, f"{name}-{width}")


def test_campaign_upload_shows_uplift(page: Page, phone: Page, server, story: Story) -> None:
    page.goto(server.url + "/campaigns")
    page.get_by_label("Results file").set_input_files(str(story.sends))
    page.get_by_label("Campaign name").fill("p2-q1")
    page.get_by_label("Strategy it carried out").select_option(STRATEGY)
    page.get_by_role("button", name="Import").click()
    expect(page).to_have_url(re.compile(r"/campaigns/p2-q1$"))
    # read by the four corners of p2mkt@2: only the planted corner helped
    page.get_by_label("Read by version").fill("p2mkt@2")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("#uplift tbody tr")
    expect(rows).to_have_count(5)  # four segments and everyone
    helped = page.locator('#uplift tr[data-verdict="helped"]')
    expect(helped).to_have_count(2)  # the planted segment, and everyone overall
    expect(helped.first.locator("th")).to_contain_text(f"{story.helped_segment} ")
    expect(page.locator('#uplift tr[data-verdict="no clear effect"]')).to_have_count(3)
    interval = helped.first.locator("td").nth(5)
    low, high = (float(v) for v in re.findall(r"[+-]\d+\.\d", interval.inner_text()))
    assert 0 < low < 35 < high  # the planted 35 points lie in the interval above zero
    shots(page, phone, server, "/campaigns/p2-q1?by=p2mkt%402", "pages2-campaign")
    shots(page, phone, server, "/campaigns", "pages2-campaigns")
    assert not page.errors, page.errors


def test_bad_campaign_file_gets_the_cli_message(page: Page, server, story: Story, tmp_path) -> None:
    bad = tmp_path / "sends-bad.csv"
    bad.write_text("customer_id,group,responded\nc00001,treatment,1\nc00002,maybe,0\n")
    cli = server.cli("campaign", "import", str(bad), "--name", "p2-bad", "--strategy", STRATEGY,
                     check=False)  # fmt: skip
    assert cli.returncode == 2
    page.goto(server.url + "/campaigns")
    page.get_by_label("Results file").set_input_files(str(bad))
    page.get_by_label("Campaign name").fill("p2-bad")
    page.get_by_label("Strategy it carried out").select_option(STRATEGY)
    page.get_by_role("button", name="Import").click()
    error = page.locator("#upload-error")
    expect(error).to_contain_text("sends-bad.csv: row 2 (line 3), column 'group': 'maybe'")
    assert error.inner_text().strip() in cli.stderr
    # the form keeps what was typed; nothing was recorded
    expect(page.get_by_label("Campaign name")).to_have_value("p2-bad")
    with Workspace.open(server.workspace) as ws:
        assert "p2-bad" not in [c["campaign"] for c in ws.campaigns()]


def test_design_recorded_and_downloadable(page: Page, server, story: Story) -> None:
    page.goto(server.url + "/campaigns")
    page.locator("summary", has_text="Design a campaign").click()
    page.get_by_label("Name of the campaign to design").fill("p2-q2")
    page.get_by_label("Strategy it will carry out").select_option(STRATEGY)
    page.get_by_label("Share held back as control (0 to 1)").fill("0.2")
    page.get_by_role("button", name="Design and record").click()
    expect(page).to_have_url(re.compile(r"/campaigns/p2-q2$"))
    expect(page.locator("#design-power tbody tr").first).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download who gets what (CSV)").click()
    frame = pd.read_csv(info.value.path())
    assert set(frame.columns) >= {"customer_id", "segment", "group"}
    shares = frame.groupby("segment")["group"].apply(lambda g: (g == "control").mean())
    assert ((shares - 0.2).abs() < 0.01).all(), shares  # exact shares within every segment
    with Workspace.open(server.workspace) as ws:
        assert ws.campaign_designs("p2-q2")[0]["customers"] == len(frame)


def test_lookalike_job_and_export(page: Page, phone: Page, server, story: Story) -> None:
    seeds = [f"p2mkt@2:{story.helped_segment}", f"p2mkt@2:{(story.helped_segment + 1) % 4}"]
    page.goto(server.url + "/audiences")
    page.get_by_label("Seed: the segment(s) to look like").select_option(seeds)
    page.get_by_label("Who to rank (customer data or prospects)").select_option("p2blobs")
    page.get_by_label("Audience size").fill("100")
    page.get_by_label("Audience name (optional)").fill("p2-look")
    page.get_by_role("button", name="Build the audience").click()
    # the job's progress is followed by htmx until its result shows, quality in words
    expect(page.locator("#job-quality")).to_contain_text("found", timeout=60_000)
    expect(page.locator("#job-status")).to_have_attribute("data-state", "done")
    page.goto(server.url + "/audiences")
    expect(page.locator('#audience-list li[data-audience="p2-look"]')).to_contain_text(
        f"segments {min(int(s[-1]) for s in seeds)}, {max(int(s[-1]) for s in seeds)} of p2mkt@2"
    )
    with page.expect_download() as info:
        page.locator('#audience-list li[data-audience="p2-look"]').get_by_role(
            "link", name="Download the ranked list"
        ).click()
    ranked = pd.read_csv(info.value.path(), dtype={"customer_id": str})
    assert len(ranked) == 100 and ranked["rank"].tolist() == list(range(1, 101))
    with Workspace.open(server.workspace) as ws:
        labels = ws.assignments("p2mkt@2")
    seed_ids = set(labels.index[labels.isin([int(s[-1]) for s in seeds])])
    assert not seed_ids & set(ranked["customer_id"])  # no seed member in the audience

    # an export for Meta: hashed identifiers, downloaded, listed with where it came from
    page.get_by_label("Segments (of one version)").select_option(f"p2mkt@2:{story.helped_segment}")
    page.get_by_label("File for").select_option("meta")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export and download").click()
    rows = list(csv.DictReader(io.StringIO(info.value.path().read_text())))
    emails = [v for r in rows for k, v in r.items() if k.lower() == "email"]
    assert len(emails) == len(rows) > 0
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in emails)
    page.goto(server.url + "/audiences")
    latest = page.locator("#exports tbody tr").first
    expect(latest).to_contain_text("p2mkt@2")
    expect(latest).to_contain_text("ana")
    expect(latest).to_contain_text("Both x and y matter")  # the hypothesis it came from
    shots(page, phone, server, "/audiences", "pages2-audiences")
    assert not page.errors, page.errors


def test_holdout_created_from_the_page(page: Page, server, story: Story) -> None:
    """Last in this file: from now on designs and exports leave these customers out."""
    page.goto(server.url + "/campaigns#holdout")
    if page.locator("#holdout-info").count() == 0:
        page.get_by_label("Share to hold out, in %").fill("5")
        page.get_by_role("button", name="Create the holdout").click()
    expect(page.locator("#holdout-info")).to_contain_text("5.0% of customers")
    with Workspace.open(server.workspace) as ws:
        held = ws.holdout_show()
    assert held["share"] == 0.05 and held["datasets"]
