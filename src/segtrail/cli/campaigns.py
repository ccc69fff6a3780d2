"""Campaign, lookalike and audience commands."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from segtrail.cli.app import (
    JSON_OPTION,
    QUIET_OPTION,
    RAW_OPTION,
    SafeConsole,
    StepProgress,
    app,
    console,
    err_console,
    open_workspace,
    parse_list,
    print_json,
)
from segtrail.cli.fit import Column, output_width, print_fitted
from segtrail.cli.numbers import human, p_value
from segtrail.cli.segments import ENGINE_OPTION, SPARK_MASTER_OPTION
from segtrail.errors import SegtrailError
from segtrail.report.words import lookalike_model_words
from segtrail.services.refs import is_count

campaign_app = typer.Typer(
    help="Campaigns: who got which strategy and who responded.", no_args_is_help=True
)
audience_app = typer.Typer(
    help="Audiences: lookalikes and lists for ad platforms.", no_args_is_help=True
)
app.add_typer(campaign_app, name="campaign")
app.add_typer(audience_app, name="audience")


@campaign_app.command("import")
def campaign_import(
    file: Path = typer.Argument(
        ...,
        help="customer_id, group (the arm: treatment/control, any names with --control or "
        "--arms; 'holdout' for measured holdout customers), responded (0/1); optional revenue, "
        "opened, clicked.",
    ),
    name: str = typer.Option(..., "--name", help="Campaign name."),
    strategy: str = typer.Option(..., "--strategy", help="The strategy the campaign carried out."),
    control: str = typer.Option(
        None,
        "--control",
        help="The arm that got nothing (default 'control'). Given, any other group value is an arm.",
    ),
    arms: str = typer.Option(
        None,
        "--arms",
        help="Comma-separated arm names besides the control; other group values are refused.",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Import a campaign's sends and responses (two arms, or several with --control/--arms)."""
    r = open_workspace().campaign_import(file, name, strategy, control, parse_list(arms))
    if json_output:
        print_json(r)
        return
    groups = ", ".join(
        f"{g}: {v['n']:,} ({v['responders']:,} responded)" for g, v in r["groups"].items()
    )
    console.print(f"campaign {r['campaign']} ({r['strategy']}): {r['rows']:,} customers; {groups}")
    if r["unknown_customers"]:
        n = r["unknown_customers"]
        console.print(
            f"note: {n:,} {'customer is' if n == 1 else 'customers are'} not in "
            f"{r['checked_against']}; kept and reported as 'not in this version'"
        )
    if r.get("design_check"):
        from segtrail.cli.designs import design_check_lines

        for line in design_check_lines(r["design_check"]):
            console.print(line)


@campaign_app.command("list")
def campaign_list(json_output: bool = JSON_OPTION) -> None:
    """List imported campaigns."""
    rows = open_workspace().campaigns()
    if json_output:
        print_json(rows)
        return
    table = Table("campaign", "strategy", "customers", "unknown", "imported", "author", box=None)
    for c in rows:
        table.add_row(
            c["campaign"],
            c["strategy"],
            f"{c['rows']:,}",
            f"{c['unknown_customers']:,}",
            c["imported_at"][:19],
            c["author"],
        )
    _print_table(table)


def _print_table(table: Table) -> None:
    """Fit a terminal; piped or redirected, print at the table's natural width (rich's default
    of 80 columns would cut the numbers and the helps/HURTS flags down to '…')."""
    if console.is_terminal:
        console.print(table)
        return
    width = SafeConsole(width=100_000).measure(table).maximum
    SafeConsole(highlight=False, markup=False, width=width).print(table)


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.1%}"


def _ci(ci: list[float] | None) -> str:
    return "" if ci is None else f"[{ci[0]:+.1%}, {ci[1]:+.1%}]"


@campaign_app.command("report")
def campaign_report(
    name: str = typer.Argument(..., help="Campaign name."),
    by: str = typer.Option(
        None,
        "--by",
        help="LENS@N to break down by (default: the version the strategy is mapped to).",
    ),
    vs_holdout: bool = typer.Option(
        False,
        "--vs-holdout",
        help="Compare with the workspace holdout (the long-run control) instead of the "
        "campaign's own control.",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Response per segment: every arm against the control, with Wilson intervals for rates,
    Newcombe intervals for uplift, p-values (Holm-adjusted across arms and segments), revenue
    per customer with Welch's test, and a segment x arm interaction test."""
    r = open_workspace().campaign_report(name, by, vs_holdout=vs_holdout)
    if json_output:
        print_json(r)
        return
    console.print(f"campaign {r['campaign']} ({r['strategy']}) by {r['by']}")
    if vs_holdout:
        h = r["holdout"]
        console.print(
            f"control: {h['holdout_customers']:,} holdout customers (the long-run control); "
            f"left out: {h['campaign_control_left_out']:,} of the campaign's own control, "
            f"{h['treated_holdout_left_out']:,} treated holdout customers"
        )
    if len(r["overall"]["arms"]) > 2:
        _print_arms(r)
    else:
        _print_two_arms(r)
    if r.get("interaction"):
        i = r["interaction"]
        console.print(
            f"does the uplift differ between segments? chi2 = {i['chi2']:.2f} on {i['df']} df, "
            f"p {p_value(i['p_value'])} ({i['test']})"
        )


def _segment_words(s: dict) -> str:
    return f"{'' if s['segment'] is None else s['segment']} {s['name'] or ''}".strip()


TWO_ARM_COLUMNS = [
    Column("segment", 9, text=True),
    Column("sent", 6),
    Column("held\nback", 5),
    Column("response\nsent", 8),
    Column("response\nheld back", 7),
    Column("uplift", 9),
    Column("95%\ninterval", 4),
    Column("p", 6),
    Column("test", 1),
    Column("revenue per\ncustomer sent", 3),
    Column("revenue per\nc. held back", 2),
    Column("verdict", 8),
]
TWO_ARM_LEGEND = (
    "sent / held back: customers who got the strategy / the control group. response: the "
    "share who responded. uplift: response sent - response held back, with its 95% interval. "
    "p: the chance of an uplift this large if the strategy did nothing (below 0.05: a real "
    "effect; verdict then says helps or HURTS). revenue per customer: revenue / customers."
)


def _print_two_arms(r: dict) -> None:
    """Plain headers, a legend, no rows for segments nobody was sent to, numbers never cut."""
    rows, silent = [], 0
    for s in [*r["segments"], r["overall"]]:
        if s is not r["overall"] and s["treatment_n"] == 0 and s["control_n"] == 0:
            silent += 1
            continue
        rows.append(
            [
                "all customers" if s is r["overall"] else _segment_words(s),
                f"{s['treatment_n']:,}",
                f"{s['control_n']:,}",
                _pct(s["treatment_rate"]),
                _pct(s["control_rate"]),
                "" if s["uplift"] is None else f"{s['uplift']:+.1%}",
                _ci(s["uplift_ci"]),
                p_value(s["p_value"]),
                s["test"] or "",
                _money(s.get("revenue_per_customer_treatment")),
                _money(s.get("revenue_per_customer_control")),
                {"helps": "helps", "hurts": "HURTS"}.get(s["flag"] or "", ""),
            ]
        )
    dropped = print_fitted(TWO_ARM_COLUMNS, rows)
    notes = SafeConsole(highlight=False, markup=False, width=output_width())
    if silent:
        notes.print(f"{silent} segment(s) got no sends and are not shown")
    if dropped:
        notes.print(f"left out to fit the width: {', '.join(dropped)} (see --json)")
    notes.print(TWO_ARM_LEGEND)


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _print_arms(r: dict) -> None:
    """One row per segment x arm; every arm against the control, Holm-adjusted p."""
    revenue = "revenue_mean" in r["overall"]["arms"][0]  # only with a revenue column
    columns = ["segment", "arm", "n", "resp.", "rate", "95% CI", "uplift", "95% CI", "p", "p Holm"]
    if revenue:
        columns += ["rev/cust", "rev diff", "95% CI", "p Welch"]
    table = Table(*columns, "", box=None)
    for s in [*r["segments"], r["overall"]]:
        for i, a in enumerate(s["arms"]):
            cells = [
                _segment_words(s) if i == 0 else "",
                a["arm"] + (" (control)" if a["control"] else ""),
                f"{a['n']:,}",
                f"{a['responders']:,}",
                _pct(a["rate"]),
                _ci_plain(a["rate_ci"]),
                "" if a["uplift"] is None else f"{a['uplift']:+.1%}",
                _ci(a["uplift_ci"]),
                p_value(a["p_value"]),
                p_value(a["p_adjusted"]),
            ]
            if revenue:
                cells += [
                    "" if a.get("revenue_mean") is None else f"{a['revenue_mean']:,.2f}",
                    "" if a.get("revenue_uplift") is None else f"{a['revenue_uplift']:+,.2f}",
                    ""
                    if a.get("revenue_uplift_ci") is None
                    else f"[{a['revenue_uplift_ci'][0]:+,.2f}, {a['revenue_uplift_ci'][1]:+,.2f}]",
                    p_value(a.get("revenue_p_value")),
                ]
            cells.append({"helps": "helps", "hurts": "HURTS"}.get(a["flag"] or "", ""))
            table.add_row(*cells)
    _print_table(table)


def _ci_plain(ci: list[float] | None) -> str:
    return "" if ci is None else f"[{ci[0]:.1%}, {ci[1]:.1%}]"


@app.command()
def lookalike(
    pool: str = typer.Option(..., "--pool", help="Dataset NAME[@N] to rank."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output file (.csv or .parquet): customer_id, score, rank."
    ),
    seed: str = typer.Option(
        None, "--seed", help="Segments as seed: LENS@N:SEGMENT or LENS@N:S1,S2."
    ),
    seed_ids: Path = typer.Option(None, "--seed-ids", help="A file of seed customer ids."),
    seed_top: str = typer.Option(
        None, "--seed-top", help="The best performers: COLUMN:PERCENT, e.g. annual_spend:5."
    ),
    features: str = typer.Option(
        None, "--features", help="Comma-separated columns (default: the seed version's)."
    ),
    method: str = typer.Option(
        "knn",
        "--method",
        help="knn (default: best recall of held-out seed members, and fast), classifier, "
        "or centroid.",
    ),
    size: str = typer.Option(
        "5%", "--size", help="Audience size: a number or a percentage of the pool."
    ),
    name: str = typer.Option(None, "--name", help="Audience name (default lookalike-N)."),
    exclude: str = typer.Option(
        None, "--exclude", help="Dataset NAME[@N] whose ids to leave out, e.g. your customers."
    ),
    include_holdout: bool = typer.Option(
        False, "--include-holdout", help="Let the workspace holdout's customers be chosen."
    ),
    engine: str = ENGINE_OPTION,
    spark_master: str = SPARK_MASTER_OPTION,
    raw: bool = RAW_OPTION,
    quiet: bool = QUIET_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Rank a pool by similarity to a seed and write the best as a lookalike audience.

    The seed segment may come from another dataset with the same feature columns (customers
    as seed, prospects as pool). Quality: 30% of the seed is hidden among the candidates, the
    rest ranks them, and recall is the share of the hidden members in an audience of the
    requested size, against a random audience of that size from the same candidates.
    """
    size_value = _size(size)
    top = _seed_top(seed_top) if seed_top is not None else None
    ws = open_workspace()
    with StepProgress(quiet or json_output) as progress:
        progress(f"ranking {pool} by similarity to the seed ({method})")
        r = ws.lookalike(
            pool,
            out,
            seed=seed,
            seed_ids=seed_ids,
            seed_top=top,
            features=parse_list(features),
            method=method,
            size=size_value,
            name=name,
            exclude=exclude,
            include_holdout=include_holdout,
            raw=raw,
            engine=engine,
            spark_master=spark_master,
            progress=progress,
        )
    if json_output:
        print_json(r)
        return
    for warning in r["warnings"]:
        err_console.print(f"warning: {warning}")
    q = r["quality"]
    console.print(
        f"audience {r['audience']}: {r['size']:,} customers from {r['pool']} ({r['method']}), wrote {r['out']}"
    )
    seed_line = f"seed: {r['seed']['in_pool']:,} customers in the pool"
    if r["seed"].get("outside_pool"):
        seed_line += f" and {r['seed']['outside_pool']:,} outside it"
    console.print(f"{seed_line} ({r['seed']['kind']}); never in the audience")
    learnt = lookalike_model_words(r["params"].get("model", {}), r["seed"])
    if learnt:
        console.print(learnt)
    if r["params"].get("exclude"):
        console.print(
            f"left out {r['params']['excluded']:,} pool rows found in {r['params']['exclude']}"
        )
    console.print(
        f"quality: hid {q['hidden']:,} seed members ({r['params']['holdout']:.0%}) among "
        f"{q['candidates']:,} candidates and ranked them with the rest of the seed; an audience "
        f"of {q['size']:,} held {q['recovered']:,} of them: recall {q['recall']:.0%}, "
        f"{q['lift_over_random']:.1f}x a random audience of that size"
    )
    console.print(_SCORE_LEGEND.get(r["method"], ""))
    table = Table("trait", "seed", "audience", "pool", box=None)
    for p in q["profile"]:
        table.add_row(
            p["column"],
            *(human(v) for v in (p["seed_mean"], p["audience_mean"], p["pool_mean"])),
        )
    _print_table(table)


_SCORE_LEGEND = {
    "classifier": "score: how likely a seed member is to look like this row (0 to 1, higher = "
    "more like the seed)",
    "knn": "score: minus the mean distance to the 10 nearest seed members (closer to 0 = more "
    "like the seed)",
    "centroid": "score: minus the distance to the seed's average (closer to 0 = more like the "
    "seed)",
}


def _size(text: str) -> int | float:
    """--size: "500" customers, or "5%" of the pool (a share for the service)."""
    value = text.strip()
    try:
        if value.endswith("%"):
            share = float(value[:-1]) / 100
            if not 0 < share <= 1:
                raise ValueError
            return share
        if not is_count(value) or int(value) < 1:
            raise ValueError
        return int(value)
    except (ValueError, OverflowError):
        raise SegtrailError(
            f"invalid --size {text!r}: a number of customers or a percentage, e.g. 500 or 5%"
        ) from None


def _seed_top(text: str) -> tuple[str, float]:
    """--seed-top COLUMN:PERCENT -> (column, share)."""
    column, colon, percent = text.rpartition(":")
    try:
        share = float(percent.strip().rstrip("%")) / 100
    except ValueError:
        share = -1.0
    if not colon or not column or not 0 < share < 1:
        raise SegtrailError(
            f"invalid --seed-top {text!r}: expected COLUMN:PERCENT, e.g. annual_spend:5"
        )
    return column, share


@audience_app.command("list")
def audience_list(json_output: bool = JSON_OPTION) -> None:
    """List recorded audiences."""
    rows = open_workspace().audiences()
    if json_output:
        print_json(rows)
        return
    if not rows:
        console.print("no audiences yet; try: segtrail lookalike --help")
        return
    table = Table(
        "audience", "method", "seed", "held-out recall", "created (UTC)", "author", box=None
    )
    for a in rows:
        recall = (a["quality"] or {}).get("recall")
        table.add_row(
            a["audience"],
            a["method"] or "",
            _seed_words(a["seed"] or {}),
            "" if recall is None else f"{recall:.0%}",
            a["created_at"][:19],
            a["author"],
        )
    _print_table(table)


def _seed_words(seed: dict) -> str:
    """A recorded seed in words: the segment, the ids file, or the top share of a column."""
    if seed.get("kind") == "segment" and seed.get("segments"):
        return f"{seed.get('version')}:{','.join(map(str, seed['segments']))}"
    if seed.get("kind") == "segment":
        name = f" ({seed['name']})" if seed.get("name") else ""
        return f"{seed.get('version')}:{seed.get('segment')}{name}"
    if seed.get("kind") == "ids":
        return f"ids from {Path(seed.get('file', '')).name}"
    if seed.get("kind") == "top":
        return f"top {seed.get('percent', 0):g}% of {seed.get('column')}"
    return str(seed)


@audience_app.command("export")
def audience_export(
    target: str = typer.Argument(
        None, help="LENS@N:SEGMENT or LENS@N:S1,S2 (several segments), or an audience name."
    ),
    fmt: str = typer.Option(
        "csv", "--format", help="csv (ids), meta or google (hashed identifiers)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output .csv file."),
    strategy: str = typer.Option(
        None,
        "--strategy",
        help="A strategy's current segments, under the adopted version of its lens.",
    ),
    include_holdout: bool = typer.Option(
        False, "--include-holdout", help="Keep the workspace holdout's customers in the file."
    ),
    raw: bool = RAW_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Write an audience for an ad platform (identifiers normalized and SHA-256 hashed as the
    platform documents) with a provenance file beside it. The workspace holdout is left out."""
    r = open_workspace().audience_export(
        target, fmt, out, raw=raw, strategy=strategy, include_holdout=include_holdout
    )
    if json_output:
        print_json(r)
        return
    st = r["stats"]
    console.print(
        f"wrote {r['rows']:,} rows ({fmt}) to {r['out']}; provenance in {r['provenance_file']}"
    )
    if r["provenance"].get("holdout_left_out"):
        console.print(f"left out {r['provenance']['holdout_left_out']:,} holdout customers")
    dropped = st.get("no_identifier", 0) + st.get("duplicates", 0)
    if dropped:
        console.print(
            f"dropped {dropped:,} rows ({st.get('no_identifier', 0):,} without a usable identifier, "
            f"{st.get('duplicates', 0):,} duplicates)"
        )
