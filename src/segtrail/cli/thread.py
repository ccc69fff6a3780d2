"""The thread: diff, carry, compare, why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from segtrail.cli.app import JSON_OPTION, app, console, open_workspace, parse_pairs, print_json
from segtrail.cli.numbers import p_value
from segtrail.cli.retired import retired_line
from segtrail.cli.segments import ENGINE_OPTION, SPARK_MASTER_OPTION
from segtrail.services.settings import check_engine

if TYPE_CHECKING:
    from segtrail.services.results import CustomerThread, SegmentThread


def _score(value: float | None) -> str:
    """ARI/NMI are None when the versions share no customer."""
    return "n/a" if value is None else f"{value:.3f}"


@app.command()
def diff(
    a: str = typer.Argument(..., help="Version A (LENS@N)."),
    b: str = typer.Argument(..., help="Version B (LENS@N)."),
    min_jaccard: float = typer.Option(
        0.5, "--min-jaccard", help="Overlap needed to call a segment kept."
    ),
    engine: str = ENGINE_OPTION,
    spark_master: str = SPARK_MASTER_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """How customers moved between two versions: transitions, ARI/NMI, each segment's fate."""
    if engine:
        check_engine(engine)
    result = open_workspace().diff(a, b, min_jaccard, engine=engine, spark_master=spark_master)
    if json_output:
        print_json(result)
        return
    console.print(
        f"{result['a']} -> {result['b']}: {result['common_customers']:,} customers in both, "
        f"{result['only_in_a']:,} only in A, {result['only_in_b']:,} only in B; "
        f"ARI {_score(result['ari'])}, NMI {_score(result['nmi'])}"
    )
    table = Table("A segment", "size", "fate", "best match in B", "Jaccard", "went to", box=None)
    for s in result["segments_a"]:
        if s["fate"] == "noise":
            continue
        targets = ", ".join(f"{t['segment']} ({t['customers']:,})" for t in s["targets"])
        match = "" if s["best_match"] is None else str(s["best_match"])
        jac = "" if s["jaccard"] is None else f"{s['jaccard']:.2f}"
        table.add_row(
            f"{s['segment']} {s['name']}", f"{s['size']:,}", s["fate"], match, jac, targets
        )
    console.print(table)
    new = [s for s in result["segments_b"] if s.get("origin") == "new"]
    for s in new:
        console.print(f"new in B: segment {s['segment']} {s['name']} ({s['size']:,} customers)")


@app.command()
def carry(
    old: str = typer.Argument(..., help="LENS@OLD whose plan to carry."),
    new: str = typer.Argument(..., help="LENS@NEW to carry it onto."),
    min_jaccard: float = typer.Option(
        0.5, "--min-jaccard", help="Overlap needed to match segments."
    ),
    apply: bool = typer.Option(False, "--apply", help="Record the carried plan on NEW."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Propose the plan of OLD on NEW: what happens to every strategy's audience."""
    result = open_workspace().carry(old, new, min_jaccard, apply)
    if json_output:
        print_json(result)
        return
    console.print(
        f"carry {result['old']} (plan r{result['old_revision']}) -> {result['new']}  "
        f"(ARI {_score(result['ari'])} on {result['common_customers']:,} common customers)"
    )
    table = Table("strategy", "from", "to", "fate", "status", "what happens", box=None)
    for e in result["strategies"]:
        old_s = "all" if e["old_segments"] == "all" else ",".join(map(str, e["old_segments"]))
        new_s = (
            "all" if e["new_segments"] == "all" else ",".join(map(str, e["new_segments"])) or "-"
        )
        table.add_row(e["strategy"], old_s, new_s, e["fate"], e["status"], e["explanation"])
    console.print(table)
    if result["needs_review"]:
        console.print("needs review: " + ", ".join(result["needs_review"]))
    if result["applied"]:
        console.print(f"recorded as {result['new']} plan r{result['revision']}")
        names = result.get("names") or {}
        for n in names.get("inherited", []):
            kept = [f"the name {n['name']!r}"] if n["name"] else []
            kept += [f"the tag {k}={v}" for k, v in n["tags"].items()]
            console.print(
                f"  {result['new']}:{n['segment']} keeps {' and '.join(kept)} "
                f"(carried from {n['from']})"
            )
        for n in names.get("suggested", []):
            console.print(
                f"  {result['new']}:{n['segment']} could be named like {n['from']} "
                f"{n['name']!r} (it {n['fate']}); `segtrail name` it if so"
            )
    else:
        console.print("(proposal only; add --apply to record it)")


@app.command()
def compare(
    a: str = typer.Argument(..., help="Version or lens A (a lens means its adopted version)."),
    b: str = typer.Argument(..., help="Version or lens B."),
    flag: list[str] = typer.Option(None, "--flag", help="Highlight B segments tagged KEY=VALUE."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Where two lenses agree or clash, and where A's strategies land in B's segments."""
    flags = parse_pairs(",".join(flag or []), "--flag")
    result = open_workspace().compare(a, b, flags)
    if json_output:
        print_json(result)
        return
    console.print(
        f"{result['a']} vs {result['b']}: {result['common_customers']:,} common customers, "
        f"ARI {_score(result['ari'])}, NMI {_score(result['nmi'])}"
    )
    cells = {(t["from"], t["to"]): t["customers"] for t in result["transitions"]}
    table = Table("", *[f"{c['segment']} {c['name']}" for c in result["columns"]], box=None)
    for r in result["rows"]:
        table.add_row(
            f"{r['segment']} {r['name']}",
            *[f"{cells.get((r['segment'], c['segment']), 0):,}" for c in result["columns"]],
        )
    console.print(table)
    for item in result["complement"]:
        spread = ", ".join(f"{s['name']} {s['share']:.0%}" for s in item["spread"][:4])
        console.print(f"{item['strategy']} ({item['audience']:,} customers) lands in: {spread}")
        for w in item["warnings"]:
            console.print(f"  ! {w}")


def _segment_ref(text: str) -> tuple[str, int]:
    """--segment LENS@N:S -> ("LENS@N", S)."""
    from segtrail.errors import SegtrailError

    ref, colon, label = text.rpartition(":")
    if not colon or "@" not in ref or not label.strip().isdigit():
        raise SegtrailError(
            f"invalid --segment {text!r}: expected LENS@N:SEGMENT, e.g. marketing@2:0"
        )
    return ref, int(label)


@app.command()
def why(
    strategy: str | None = typer.Argument(None, help="Strategy name."),
    segment: str | None = typer.Option(
        None, "--segment", help="A segment instead, as LENS@N:SEGMENT: its story as a timeline."
    ),
    customer: str | None = typer.Option(
        None, "--customer", help="A customer id instead: their segment in every version."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """The thread from a strategy back to every hypothesis that justified it; with --segment,
    one segment's story (origin, names, strategies, fate in later versions); with
    --customer, one customer's segment under every hypothesis and the campaigns that
    included them."""
    from segtrail.errors import SegtrailError

    given = [x for x in (strategy, segment, customer) if x is not None]
    if len(given) != 1:
        raise SegtrailError("give one of: a strategy name, --segment LENS@N:SEGMENT, --customer ID")
    if segment is not None:
        ref, label = _segment_ref(segment)
        _why_segment(open_workspace().why_segment(ref, label), json_output)
        return
    if customer is not None:
        _why_customer(open_workspace().why_customer(customer), json_output)
        return
    result = open_workspace().why(strategy)
    if json_output:
        print_json(result)
        return
    s = result["strategy"]
    console.print(
        f"{s['name']}: {s['message']} ({', '.join(s['channels'])})"
        + (f", offer: {s['offer']}" if s["offer"] else "")
        + (f", owner {s['owner']}" if s["owner"] else "")
    )
    if s.get("retired"):
        console.print("  " + retired_line("strategy", s["name"], s["retired"]))
    if not result["mappings"]:
        console.print("  never mapped onto a segmentation")
    for m in result["mappings"]:
        segs = (
            "all customers"
            if m["segments"] == "all"
            else ", ".join(f"{d['segment']} {d['name']!r}" for d in m["segment_details"])
            or "no segment"
        )
        console.print(
            f"\n{m['version']} [{m['version_status']}] plan r{m['plan_revision']}: {m['status']} on {segs}"
        )
        console.print(f"  hypothesis: {m['hypothesis']}")
        console.print(f"  dataset: {m['dataset']}")
        if m["rationale"]:
            console.print(f"  rationale: {m['rationale']}")
        for d in m["segment_details"]:
            console.print(f"  segment {d['segment']} {d['name']}: {d['description']}")
        if m["carry"]:
            console.print(
                f"  carried from {m['carry']['from']} r{m['carry']['from_revision']}: {m['carry']['explanation']}"
            )
    for c in result["campaigns"]:
        if "error" in c:
            console.print(f"\ncampaign {c['campaign']}: {c['error']}")
            continue
        o = c["overall"]
        up = "n/a" if o["uplift"] is None else f"{o['uplift']:+.1%}"
        console.print(
            f"\ncampaign {c['campaign']} (by {c['by']}): uplift {up}, p {p_value(o['p_value'])}"
            if o["p_value"] is not None
            else f"\ncampaign {c['campaign']}: uplift {up}"
        )
        for seg in c["segments"]:
            if seg["flag"]:
                console.print(
                    f"  {seg['name']}: {seg['flag']} (uplift {seg['uplift']:+.1%}, p {p_value(seg['p_value'])})"
                )
    for a in result["audiences"]:
        console.print(
            f"\nlookalike audience {a['name']} from {a['seed'].get('version')}:"
            + ",".join(map(str, a["seed"].get("segments") or [a["seed"].get("segment")]))
        )


def _why_segment(result: SegmentThread, json_output: bool) -> None:
    if json_output:
        print_json(result)
        return
    # names, descriptions and hypotheses are user-written: printed as text, never as markup
    console.print(
        f"{result['version']} segment {result['segment']} “{result['name']}”: "
        f"{result['size']:,} customers",
        markup=False,
    )
    if result["description"]:
        console.print(f"  {result['description']}", markup=False)
    console.print(f"  hypothesis: {result['hypothesis']}", markup=False)
    for item in result["timeline"]:
        console.print(f"\n{item['at'][:16]} {item['who']}: {item['title']}", markup=False)
        if item["text"]:
            console.print(f"  {item['text']}", markup=False)


def _why_customer(result: CustomerThread, json_output: bool) -> None:
    if json_output:
        print_json(result)
        return
    console.print(f"customer {result['customer']}", markup=False)
    for v in result["versions"]:
        reached = ", ".join(f"{s['strategy']} ({s['status']})" for s in v["strategies"])
        console.print(
            f"\n{v['version']} ({v['at'][:10]}): segment {v['segment']} “{v['name']}”",
            markup=False,
        )
        console.print(f"  hypothesis: {v['hypothesis']}", markup=False)
        console.print(f"  strategies: {reached or 'none targets this segment'}", markup=False)
    for c in result["campaigns"]:
        console.print(
            f"\ncampaign {c['campaign']} ({c['strategy']}): {c['group']}, "
            + ("responded" if c["responded"] else "did not respond"),
            markup=False,
        )
