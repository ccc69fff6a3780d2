"""`segtrail demo`: a workspace built from the built-in sample data, telling two stories (ten
B2B companies whose segmentation gets revised; sample customers seen through two lenses) with
the real commands' service functions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from segtrail.engine.sample import generate_customers, ten_companies
from segtrail.services.designs import in_holdout
from segtrail.services.workspace import Workspace

Say = Callable[[str], None]

# The product lens looks at engagement only.
ENGAGEMENT = [
    "app_sessions_per_month",
    "web_visits_per_month",
    "support_tickets",
    "return_rate",
    "device",
]


def _pick(ws: Workspace, ref: str, column: str, largest: bool = True) -> int:
    """The segment whose mean of `column` is highest (or lowest)."""
    segments = ws.show(ref)["profiles"]["segments"]
    means = {
        s["segment"]: n["mean"]
        for s in segments
        if s["segment"] >= 0
        for n in s["numeric"]
        if n["column"] == column and n["mean"] is not None
    }
    return (max if largest else min)(means, key=means.get)


def build_demo(directory: str | Path, customers: int = 50_000, say: Say = print) -> Workspace:
    root = Path(directory)
    ws = Workspace.init(root, author="demo")
    data = root / "data"
    reports = root / "reports"
    data.mkdir()
    reports.mkdir()
    for step in _steps(ws, data, reports, customers):
        say(step)
    return ws


def _steps(ws: Workspace, data: Path, reports: Path, n: int) -> Iterator[str]:
    # --- data ------------------------------------------------------------------------
    frame, _truth = generate_customers(n)
    frame.to_csv(data / "customers.csv", index=False)
    _tour_files(frame, data)
    ten_companies().to_csv(data / "companies.csv", index=False)
    d = ws.ingest(data / "customers.csv", "customer_id")
    yield f"ingested {d['dataset']}: {d['rows']:,} sample customers, {len(d['columns'])} columns"
    c = ws.ingest(data / "companies.csv", "company")
    yield f"ingested {c['dataset']}: ten sample B2B companies"

    # --- story 1: ten companies; sales has one message, marketing segments ----------------
    yield "\n== Ten B2B companies: a segmentation, its strategies, and a revision =="
    ws.strategy_add(
        "one-message",
        "Our platform saves every team time",
        ["email", "webinar"],
        owner="sales",
    )
    v1 = ws.segment(
        "companies",
        "accounts",
        "Companies differ by size: big accounts, small fast movers, mid-size in between",
        features=["employees", "annual_contract_value", "seats", "support_tickets_per_quarter"],
        k=3,
    )
    ref1 = v1["version"]
    ws.plan_map(
        "one-message",
        ref1,
        "all",
        status="paused",
        rationale="Sales' single message for everyone: doable, rarely effective",
    )
    big = _pick(ws, ref1, "employees")
    small = _pick(ws, ref1, "employees", largest=False)
    mid = ({0, 1, 2} - {big, small}).pop()
    ws.name(ref1, big, "Enterprise accounts")
    ws.name(ref1, small, "Small fast movers")
    ws.name(ref1, mid, "Mid-market")
    yield f"marketing looks at the data first: {ref1} clusters the companies into 3 groups"
    strategies = [
        (
            "s1-enterprise-roi",
            "ROI case studies for procurement",
            ["account-manager"],
            [big],
            "active",
            "Big accounts buy on proven ROI",
        ),
        (
            "s2-self-serve",
            "Start free, upgrade in-app",
            ["in-app"],
            [small],
            "not-viable",
            "No self-serve funnel yet: #2 isn't viable, focus",
        ),
        (
            "s3-adoption",
            "Adoption workshops for under-used seats",
            ["webinar", "email"],
            [mid],
            "active",
            "Mid-market barely uses what it bought",
        ),
        (
            "s4-community",
            "Join the customer community",
            ["email", "events"],
            [small, mid],
            "active",
            "A more generic message spanning two clusters",
        ),
    ]
    for name, message, channels, segments, status, rationale in strategies:
        ws.strategy_add(name, message, channels)
        ws.plan_map(name, ref1, segments, status=status, rationale=rationale)
    yield (
        "strategies #1-#4 mapped (#2 not viable, #4 spans two clusters); "
        "see `segtrail plan show accounts@1`"
    )
    ws.adopt(ref1)

    v2 = ws.segment(
        "companies",
        "accounts",
        "Flaw found: size does not say what a company needs; product usage does "
        "(engaged vs under-using accounts)",
        features=["weekly_active_share", "usage_hours_per_seat"],
        k=2,
    )
    ref2 = v2["version"]
    engaged = _pick(ws, ref2, "weekly_active_share")
    ws.name(ref2, engaged, "Engaged self-starters")
    ws.name(ref2, 1 - engaged, "Under-using accounts")
    moved = ws.diff(ref1, ref2)
    yield (
        f"re-segmented as {ref2}; {moved['common_customers']} companies compared, "
        f"ARI {moved['ari']:.2f}"
    )
    carried = ws.carry(ref1, ref2, apply=True)
    for e in carried["strategies"]:
        yield f"  carried {e['strategy']}: {e['fate']} -> {e['explanation']}"
    ws.adopt(ref2)

    p1 = ws.segment(
        "companies",
        "accounts-product",
        "Product's view: how well the product fits, from usage and support load",
        features=["weekly_active_share", "usage_hours_per_seat", "support_tickets_per_quarter"],
        k=3,
    )
    poor = _pick(ws, p1["version"], "weekly_active_share", largest=False)
    ws.name(p1["version"], poor, "Struggling users")
    ws.tag(p1["version"], poor, "fit", "poor")
    ws.adopt(p1["version"])
    compared = ws.compare("accounts", "accounts-product", {"fit": "poor"})
    yield f"product lens {p1['version']} compared with marketing's: ARI {compared['ari']:.2f}"
    for item in compared["complement"]:
        for warning in item["warnings"]:
            yield f"  ! {warning}"

    # --- story 2: customers, two lenses ---------------------------------------------------
    yield "\n== Sample customers: a marketing and a product lens, a campaign, a lookalike =="
    m1 = ws.segment(
        "customers",
        "marketing",
        "Behaviour and channels separate young app-first buyers from older email-first ones",
        exclude=["region"],
    )
    ref_m1 = m1["version"]
    yield f"{ref_m1}: k={m1['k']} chosen automatically ({m1['algorithm']})"
    for s in m1["segments"]:
        yield f"  {s['segment']}: {s['name']} ({s['share']:.0%}) {s['description']}"
    young = _pick(ws, ref_m1, "age", largest=False)
    old = _pick(ws, ref_m1, "age")
    vip = _pick(ws, ref_m1, "annual_spend")
    ws.name(ref_m1, young, "Younger, tech-savvy", "Uses the app, reads product detail")
    ws.name(ref_m1, old, "Older, tech-casual", "Prefers email and simple steps")
    if vip not in (young, old):
        ws.name(ref_m1, vip, "VIP")
    ws.adopt(ref_m1)
    yield (
        f"fitting hdbscan (density-based) on {n:,} customers: the slowest step, "
        "often 20 s or more..."
    )
    m2 = ws.segment(
        "customers",
        "marketing",
        "Do density-based clusters find the same groups, and who is left unassigned?",
        exclude=["region"],
        algorithm="hdbscan",
    )
    yield f"{m2['version']}: hdbscan found {m2['k']} segments"
    m3 = ws.segment(
        "customers",
        "marketing",
        "Only what customers do (no demographics): does age still show up?",
        exclude=["region", "age"],
        k=m1["k"],
    )
    yield f"{m3['version']}: behaviour only, k={m3['k']}"
    pr1 = ws.segment(
        "customers",
        "product",
        "Product engagement: app and web use, support load, returns",
        features=ENGAGEMENT,
        k="auto",
    )
    pr2 = ws.segment(
        "customers",
        "product",
        "Same engagement view with a Gaussian mixture (k by BIC)",
        features=ENGAGEMENT,
        algorithm="gmm",
        k_range=(2, 8),
    )
    ws.adopt(pr1["version"])
    yield f"product lens: {pr1['version']} (k={pr1['k']}), {pr2['version']} (gmm, k={pr2['k']})"

    ws.strategy_add(
        "app-push", "New features first, in the app", ["TikTok", "push"], offer="early access"
    )
    ws.strategy_add("email-guide", "A simple how-to guide, step by step", ["email", "phone"])
    ws.plan_map(
        "app-push", ref_m1, [young], rationale="Younger, tech-savvy: loves detail, scrolls TikTok"
    )
    ws.plan_map(
        "email-guide", ref_m1, [old], rationale="Older, tech-casual: wants simplicity, reads email"
    )

    # --- campaign with a control group, lookalike ------------------------------------------
    campaign = _simulate_campaign(ws, ref_m1, young)
    campaign.to_csv(data / "sends.csv", index=False)
    ws.campaign_import(data / "sends.csv", "app-push-q1", "app-push")
    rep = ws.campaign_report("app-push-q1")
    o = rep["overall"]
    yield (
        f"campaign app-push-q1: treatment {o['treatment_rate']:.1%} "
        f"vs control {o['control_rate']:.1%}, "
        f"uplift {o['uplift']:+.1%} (p={o['p_value']:.2g})"
    )
    yield from _designed_campaign(ws, data, ref_m1)
    look = ws.lookalike(
        "customers",
        data / "lookalike-vip.csv",
        seed=f"{ref_m1}:{vip}",
        size=1000,
        name="vip-lookalike",
    )
    q = look["quality"]
    yield (
        f"lookalike vip-lookalike: 1,000 customers like {ref_m1}:{vip}; "
        f"held-out recall {q['recall']:.0%}"
    )

    written = ws.report(ref_m1, reports / "marketing-1.html")
    moves = ws.report(ref1, reports / "accounts-diff.html", diff=ref2)
    yield f"reports: {written['out']} and {moves['out']}"


def _tour_files(frame: pd.DataFrame, data: Path) -> None:
    """The other files the README's CLI tour uses: the same customers a quarter later
    (customers_later.csv, for customers@2) and customers who joined since (new_customers.csv),
    both drawn from the same sample generator."""
    later = frame.copy()
    rng = np.random.default_rng(5)
    later["days_since_last_order"] = later["days_since_last_order"] + 90 * (
        rng.random(len(later)) < 0.3
    )
    later["tenure_months"] = later["tenure_months"] + 3
    later.to_csv(data / "customers_later.csv", index=False)
    joined, _ = generate_customers(max(len(frame) // 10, 10), seed=99)
    joined["customer_id"] = [f"N{i:06d}" for i in range(len(joined))]
    joined.to_csv(data / "new_customers.csv", index=False)


def _simulate_campaign(ws: Workspace, ref: str, target: int) -> pd.DataFrame:
    """A campaign on 20,000 customers, 80/20 treatment/control, which works best on `target`."""
    labels = ws.assignments(ref)
    rng = np.random.default_rng(11)
    chosen = rng.choice(len(labels), size=min(20_000, len(labels)), replace=False)
    seg = labels.to_numpy()[chosen]
    treated = rng.random(len(chosen)) < 0.8
    base = np.where(seg == target, 0.06, 0.04)
    lift = np.where(seg == target, 0.05, 0.0)
    responded = rng.random(len(chosen)) < base + treated * lift
    return pd.DataFrame(
        {
            "customer_id": labels.index.to_numpy()[chosen],
            "group": np.where(treated, "treatment", "control"),
            "responded": responded.astype(int),
            "revenue": np.where(responded, rng.gamma(2.0, 40.0, len(chosen)).round(2), 0.0),
        }
    )


def _designed_campaign(ws: Workspace, data: Path, ref: str) -> Iterator[str]:
    """A 5% workspace holdout, then a campaign designed before it is "sent": the email guide
    to its mapped segment, control drawn within the segment, power checked, results imported
    and checked against the design, read against its own control and against the holdout."""
    ws.holdout_create(0.05, seed=7)
    design = ws.campaign_design(
        "email-guide-q2",
        "email-guide",
        control_share=0.1,
        baseline_rate=0.05,
        mde=0.02,
        seed=3,
        out=data / "email-guide-q2-assignment.csv",
    )
    yield (
        f"holdout: 5% of customers kept out of every campaign; designed email-guide-q2 on "
        f"{design['version']}: {design['customers']:,} customers "
        f"({design['held_out']:,} held out), control 10% within each segment"
    )
    for s in design["segments"]:
        yield (
            f"  {s['name']}: control {s['control']:,}: detects uplifts of "
            f"{s['mde'] * 100:.1f} points or more (power {s['power_at_mde']:.0%} for 2 points)"
        )
    results = _simulate_designed_results(ws, design, data / "email-guide-q2-assignment.csv")
    results.to_csv(data / "email-guide-q2-results.csv", index=False)
    imported = ws.campaign_import(
        data / "email-guide-q2-results.csv", "email-guide-q2", "email-guide"
    )
    check = imported["design_check"]
    yield (
        f"imported email-guide-q2: {'matches its design' if check['clean'] else 'differs'}; "
        "see `segtrail campaign report email-guide-q2 --vs-holdout`"
    )
    own = ws.campaign_report("email-guide-q2")["overall"]
    held = ws.campaign_report("email-guide-q2", vs_holdout=True)["overall"]
    yield (
        f"  uplift {own['uplift']:+.1%} against its own control, "
        f"{held['uplift']:+.1%} against the holdout"
    )


def _simulate_designed_results(ws: Workspace, design: dict, assignment: Path) -> pd.DataFrame:
    """What the designed customers did (5% respond anyway, 3 points more when sent the
    guide), plus the audience's holdout customers, who were measured but never sent anything."""
    sent = pd.read_csv(assignment, dtype={"customer_id": str})
    labels = ws.assignments(design["version"])
    targets = [s["segment"] for s in design["segments"]]
    audience = labels.index[labels.isin(targets).to_numpy()]
    held = audience[in_holdout(ws, audience)].astype(str)
    rng = np.random.default_rng(5)
    frame = pd.concat(
        [
            sent[["customer_id", "group"]],
            pd.DataFrame({"customer_id": held, "group": "holdout"}),
        ],
        ignore_index=True,
    )
    rate = np.where(frame["group"] == "treatment", 0.08, 0.05)
    frame["responded"] = (rng.random(len(frame)) < rate).astype(int)
    return frame
