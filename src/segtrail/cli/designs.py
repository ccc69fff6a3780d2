"""Designing a campaign before it is sent (`campaign design`, `campaign designs`) and the
workspace-wide holdout (`holdout create`, `holdout show`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from segtrail.cli.app import (
    JSON_OPTION,
    app,
    console,
    open_workspace,
    parse_list,
    print_json,
)
from segtrail.cli.campaigns import _print_table, campaign_app

holdout_app = typer.Typer(
    help="The workspace-wide holdout: customers no campaign or audience export reaches.",
    no_args_is_help=True,
)
app.add_typer(holdout_app, name="holdout")


def points(uplift: float) -> str:
    """0.07 -> '7 points', 0.012 -> '1.2 points' (percentage points of response rate)."""
    text = f"{uplift * 100:.1f}".removesuffix(".0")
    return f"{text} point{'' if text == '1' else 's'}"


def segment_warning(s: dict, mde: float | None) -> str | None:
    """The plain-words line for a segment too small to show what was asked (or anything)."""
    label = s["name"] or f"segment {s['segment']}"
    head = f"{label}: {s['customers']:,} customers, control {s['control']:,}"
    if s["mde"] is None:
        return f"{head}: too small to detect any uplift"
    if s["too_small"]:
        return f"{head}: can only detect uplifts of {points(s['mde'])} or more"
    return None


def _render_power(r: dict) -> None:
    arms = [g["group"] for g in r["groups"] if g["group"] != r["control"]]
    headers = ["segment", "customers", *arms, "control", "baseline", "detects (MDE)"]
    if r["mde"] is not None:
        headers.append(f"power at +{points(r['mde'])}")
    table = Table(*headers, box=None)
    for s in [*r["segments"], r["overall"]]:
        label = f"{'' if s['segment'] is None else s['segment']} {s['name'] or ''}".strip()
        row = [
            label,
            f"{s['customers']:,}",
            *(f"{s['groups'][a]:,}" for a in arms),
            f"{s['control']:,}",
            f"{s['baseline']:.1%}",
            "nothing" if s["mde"] is None else f"+{points(s['mde'])}",
        ]
        if r["mde"] is not None:
            row.append(f"{s['power_at_mde']:.0%}" + ("  too small" if s["too_small"] else ""))
        table.add_row(*row)
    _print_table(table)


@campaign_app.command("design")
def campaign_design(
    name: str = typer.Argument(..., help="Campaign name (import its results under this name)."),
    strategy: str = typer.Option(..., "--strategy", help="The strategy the campaign carries out."),
    by: str = typer.Option(
        None,
        "--by",
        help="LENS@N whose mapped segments make the audience (default: the adopted version "
        "of the mapped lens, else the newest mapped version).",
    ),
    control_share: float = typer.Option(0.1, "--control-share", help="Share held back as control."),
    arms: str = typer.Option(
        None, "--arms", help="Comma-separated arm names (default: one arm, 'treatment')."
    ),
    baseline_rate: float = typer.Option(
        None, "--baseline-rate", help="Expected response rate without the campaign (default 0.05)."
    ),
    baseline_from: str = typer.Option(
        None,
        "--baseline-from",
        help="Take the baseline from a past campaign's control rates, per segment.",
    ),
    mde: float = typer.Option(
        None, "--mde", help="The uplift you want to detect (absolute, e.g. 0.01 = 1 point)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of each test."),
    power: float = typer.Option(0.8, "--power", help="Wanted probability of detecting it."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default: a fresh one, recorded)."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Assignment file (.csv or .parquet): customer_id, segment, group."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only report sizes and power; write and record nothing."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Assign a strategy's audience to arms and control, stratified by segment, and report
    per segment the uplift each can detect, before anything is sent."""
    r = open_workspace().campaign_design(
        name,
        strategy,
        by=by,
        control_share=control_share,
        arms=parse_list(arms),
        baseline_rate=baseline_rate,
        baseline_from=baseline_from,
        mde=mde,
        alpha=alpha,
        power=power,
        seed=seed,
        out=out,
        dry_run=dry_run,
    )
    if json_output:
        print_json(r)
        return
    shares = ", ".join(f"{g['group']} {g['share']:.0%}" for g in r["groups"])
    console.print(
        f"campaign {r['design']} ({r['strategy']}) on {r['version']}: {r['customers']:,} "
        f"customers; {shares}; seed {r['seed']}"
    )
    if r["plan_status"] != "active":
        console.print(f"note: {r['strategy']} is {r['plan_status']} on {r['version']}")
    if r["held_out"]:
        console.print(f"{r['held_out']:,} customers of the audience are in the holdout: left out")
    console.print(
        f"power {r['power']:.0%} at alpha {r['alpha']:g}, two-sided, each arm against control:"
    )
    _render_power(r)
    for s in r["segments"]:
        warning = segment_warning(s, r["mde"])
        if warning:
            console.print(f"! {warning}")
    if r["recorded"]:
        console.print(f"wrote {r['out']}; design recorded (import the results as {r['design']})")
    else:
        console.print("dry run: nothing written or recorded")


@campaign_app.command("designs")
def campaign_designs(
    name: str = typer.Argument(None, help="One design (default: list them all)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Recorded campaign designs: version, groups and shares, seed, power per segment."""
    rows = open_workspace().campaign_designs(name)
    if json_output:
        print_json(rows[0] if name else rows)
        return
    if name:
        r = rows[0]
        shares = ", ".join(f"{g['group']} {g['share']:.0%}" for g in r["groups"])
        console.print(
            f"design {r['design']} ({r['strategy']}) on {r['version']}: {r['customers']:,} "
            f"customers; {shares}; seed {r['seed']}; by {r['author']} {r['designed_at'][:19]}"
        )
        _render_power(r)
        return
    table = Table(
        "design", "strategy", "version", "customers", "groups", "seed", "designed", box=None
    )
    for r in rows:
        table.add_row(
            r["design"],
            r["strategy"],
            r["version"],
            f"{r['customers']:,}",
            ", ".join(f"{g['group']} {g['share']:.0%}" for g in r["groups"]),
            str(r["seed"]),
            r["designed_at"][:19],
        )
    _print_table(table)


@holdout_app.command("create")
def holdout_create(
    share: float = typer.Option(..., "--share", help="Share of customers to hold out, e.g. 0.05."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default: a fresh one, recorded)."),
    replace: bool = typer.Option(
        False, "--replace", help="Replace the existing holdout (ends its long-run control)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Hold out a stable share of customers from every campaign design and audience export."""
    r = open_workspace().holdout_create(share, seed=seed, replace=replace)
    if json_output:
        print_json(r)
        return
    _render_holdout(r)


@holdout_app.command("show")
def holdout_show(json_output: bool = JSON_OPTION) -> None:
    """The current holdout: share, seed, how many customers of each dataset it holds."""
    r = open_workspace().holdout_show()
    if json_output:
        print_json(r)
        return
    _render_holdout(r)


def _render_holdout(r: dict) -> None:
    console.print(
        f"holdout: {r['share']:.1%} of customers (seed {r['seed']}), by {r['author']} "
        f"{r['created_at'][:19]}; a customer's membership depends only on its id"
    )
    for ref, d in r["datasets"].items():
        console.print(f"  {ref}: {d['held_out']:,} of {d['customers']:,} customers held out")


def design_check_lines(check: dict) -> list[str]:
    """How an imported results file compares with its design, in plain words."""
    if check["clean"]:
        return [
            f"matches its design: all {check['designed']:,} designed customers, each in its group"
        ]
    lines = [f"differs from its design ({check['designed']:,} customers designed):"]
    ex = check["examples"]
    if check["unknown"]:
        lines.append(
            f"  {check['unknown']:,} customers were not in the design (e.g. "
            f"{', '.join(map(str, ex['unknown']))})"
        )
    if check["wrong_group"]:
        first = ex["wrong_group"][0]
        lines.append(
            f"  {check['wrong_group']:,} customers are in another group than designed (e.g. "
            f"{first['customer_id']}: designed {first['designed']}, imported {first['imported']})"
        )
    if check["missing"]:
        lines.append(
            f"  {check['missing']:,} designed customers are missing (e.g. "
            f"{', '.join(map(str, ex['missing']))})"
        )
    if check["not_in_holdout"]:
        lines.append(
            f"  {check['not_in_holdout']:,} rows say 'holdout' for customers not in the holdout"
        )
    return lines
