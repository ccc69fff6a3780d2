"""Strategy and plan commands."""

from __future__ import annotations

import typer
from rich.table import Column, Table

from segtrail.cli.app import JSON_OPTION, app, console, open_workspace, print_json
from segtrail.errors import SegtrailError

strategy_app = typer.Typer(
    help="Strategies: tactics with a message, channels and an offer.", no_args_is_help=True
)
plan_app = typer.Typer(
    help="Plans: which strategy targets which segments of a version.", no_args_is_help=True
)
app.add_typer(strategy_app, name="strategy")
app.add_typer(plan_app, name="plan")


@strategy_app.command("add")
def strategy_add(
    name: str = typer.Argument(..., help="Short name, e.g. spring-promo."),
    message: str = typer.Option(..., "--message", "-m", help="What the strategy says."),
    channel: list[str] = typer.Option(..., "--channel", "-c", help="A channel (repeat for more)."),
    offer: str = typer.Option(None, "--offer", help="The offer, if any."),
    owner: str = typer.Option(None, "--owner", help="Who owns it."),
) -> None:
    """Add a strategy (a tactic you can map onto segments)."""
    s = open_workspace().strategy_add(name, message, channel, offer=offer, owner=owner)
    console.print(f"strategy {s['name']}: {s['message']} ({', '.join(s['channels'])})")


@strategy_app.command("edit")
def strategy_edit(
    name: str = typer.Argument(..., help="The strategy to change."),
    message: str = typer.Option(None, "--message", "-m", help="A new message."),
    channel: list[str] = typer.Option(
        None, "--channel", "-c", help="The channels, all of them (repeat for more)."
    ),
    offer: str = typer.Option(None, "--offer", help="A new offer."),
    owner: str = typer.Option(None, "--owner", help="A new owner."),
) -> None:
    """Change a strategy's message, channels, offer or owner (a new revision; the old
    wording stays in the history)."""
    s = open_workspace().strategy_edit(
        name, message=message, channels=channel or None, offer=offer, owner=owner
    )
    console.print(f"strategy {s['name']}: {s['message']} ({', '.join(s['channels'])})")


@strategy_app.command("list")
def strategy_list(
    include_retired: bool = typer.Option(
        False, "--all", help="Also list retired strategies (marked)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """List strategies (retired ones only with --all)."""
    every = open_workspace().strategies(include_retired=True)
    rows = [s for s in every if include_retired or not s.get("retired")]
    if json_output:
        print_json(rows)
        return
    hidden = 0 if include_retired else len(every) - len(rows)
    if not rows:
        console.print(
            f"{hidden} retired strategies not shown; --all lists them"
            if hidden
            else "no strategies yet; try: segtrail strategy add NAME -m MESSAGE -c CHANNEL"
        )
        return
    table = Table("strategy", "message", "channels", "offer", "owner", box=None)
    for s in rows:
        table.add_row(
            s["name"] + (" (retired)" if s.get("retired") else ""),
            s["message"],
            ", ".join(s["channels"]),
            s["offer"] or "",
            s["owner"] or "",
        )
    console.print(table)
    if hidden:
        console.print(f"{hidden} retired strategies not shown; --all lists them")


@strategy_app.command("retire")
def strategy_retire(
    name: str = typer.Argument(..., help="The strategy to retire."),
    reason: str = typer.Option(None, "--reason", help="Why, for the history."),
) -> None:
    """Hide a strategy from the list and refuse new mappings of it; its plans, thread
    (`why`) and campaigns stay. `strategy restore` undoes it."""
    r = open_workspace().strategy_retire(name, reason)
    console.print(
        f"retired strategy {r['name']}: hidden from `segtrail strategy list` (shown with "
        f"--all); `segtrail strategy restore {r['name']}` brings it back"
    )


@strategy_app.command("restore")
def strategy_restore(name: str = typer.Argument(..., help="The retired strategy.")) -> None:
    """Bring a retired strategy back into the list and into use."""
    r = open_workspace().strategy_restore(name)
    console.print(f"restored strategy {r['name']}")


def _segments(segments: str | None, all_segments: bool) -> list[int] | str:
    if all_segments and segments:
        raise SegtrailError("give either --segments or --all, not both")
    if all_segments:
        return "all"
    if not segments:
        raise SegtrailError("give --segments 0,2 or --all")
    try:
        return [int(s) for s in segments.split(",") if s.strip()]
    except ValueError:
        raise SegtrailError(f"invalid --segments {segments!r}: labels like 0,2") from None


@plan_app.command("map")
def plan_map(
    strategy: str = typer.Argument(..., help="Strategy name."),
    ref: str = typer.Argument(..., help="LENS@N"),
    segments: str = typer.Option(None, "--segments", "-s", help="Segment labels, e.g. 0,2."),
    all_segments: bool = typer.Option(False, "--all", help="Target every customer."),
    status: str = typer.Option("active", "--status", help="active, paused or not-viable."),
    rationale: str = typer.Option(None, "--rationale", "-r", help="Why this strategy fits."),
) -> None:
    """Map a strategy onto one segment, several, or all (a new plan revision)."""
    state = open_workspace().plan_map(
        strategy, ref, _segments(segments, all_segments), status=status, rationale=rationale
    )
    if state.get("unchanged"):
        console.print(
            f"{state['version']} plan r{state['revision']}: unchanged ({strategy} is mapped "
            "exactly so already; nothing recorded)"
        )
        return
    console.print(f"{state['version']} plan r{state['revision']}: {state['change']}")


@plan_app.command("revert")
def plan_revert(
    ref: str = typer.Argument(..., help="LENS@N"),
    to_revision: int = typer.Option(
        ..., "--to-revision", min=1, help="The revision whose entries to restore."
    ),
) -> None:
    """Restore the plan of a version as it was at an earlier revision (a new revision:
    nothing is deleted)."""
    state = open_workspace().plan_revert(ref, to_revision)
    console.print(f"{state['version']} plan r{state['revision']}: {state['change']}")


@plan_app.command("unmap")
def plan_unmap(
    strategy: str = typer.Argument(..., help="Strategy name."),
    ref: str = typer.Argument(..., help="LENS@N"),
) -> None:
    """Remove a strategy from a version's plan (a new plan revision; history kept)."""
    state = open_workspace().plan_unmap(strategy, ref)
    console.print(f"{state['version']} plan r{state['revision']}: {state['change']}")


@plan_app.command("show")
def plan_show(
    ref: str = typer.Argument(..., help="LENS@N, or LENS for its adopted version."),
    revision: int = typer.Option(None, "--revision", help="Show a past plan revision."),
    json_output: bool = JSON_OPTION,
) -> None:
    """The strategy map as a matrix (strategies x segments) with coverage."""
    plan = open_workspace().plan_show(ref, revision)
    if json_output:
        print_json(plan)
        return
    if not plan["revision"]:
        console.print(
            f"{plan['version']} has no plan yet; try: segtrail plan map STRATEGY {plan['version']} --segments 0"
        )
        return
    console.print(
        f"{plan['version']} plan r{plan['revision']} ({plan['author']}, {plan['at'][:19]}): {plan['change']}"
    )
    if plan["carried_from"]:
        console.print(
            f"carried forward from {plan['carried_from']['version']} r{plan['carried_from']['revision']}"
        )
    if plan["diff"]:
        d = plan["diff"]
        ari = "n/a" if d["ari"] is None else f"{d['ari']:.3f}"
        console.print(
            f"justified by the diff {d['a']} -> {d['b']}: "
            f"{d['common_customers']:,} common customers, ARI {ari}"
        )
    # Names and statuses never shrink to "needs-rev…": the segment headers wrap instead.
    table = Table(
        Column("strategy", no_wrap=True),
        Column("status", no_wrap=True, min_width=len("needs-review")),
        *[f"{s['segment']} {s['name']}" for s in plan["segments"]],
        "audience",
        box=None,
    )
    for row in plan["matrix"]:
        marks = ["x" if row["segments"][str(s["segment"])] else "." for s in plan["segments"]]
        table.add_row(row["strategy"], row["status"], *marks, f"{row['audience']:,}")
    console.print(table)
    for entry in plan["entries"]:
        if entry["rationale"]:
            console.print(f"  {entry['strategy']}: {entry['rationale']}")
        if entry.get("carry"):
            console.print(
                f"  {entry['strategy']} carried from {entry['carry']['from']}: {entry['carry']['explanation']}"
            )
    c = plan["coverage"]
    console.print(
        f"coverage: {c['reached']:,} of {c['customers']:,} customers reached by an active strategy, "
        f"{c['unreached']:,} by none, {c['overlapping']:,} by more than one"
    )


@plan_app.command("history")
def plan_history(
    lens: str = typer.Argument(..., help="Lens name."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Every plan change of a lens, with author and time."""
    rows = open_workspace().plan_history(lens)
    if json_output:
        print_json(rows)
        return
    for r in rows:
        console.print(
            f"{r['at'][:19]}  {r['author']}  {r['version']} r{r['revision']}: {r['change']}"
        )
