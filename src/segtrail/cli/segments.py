"""Segmentation commands: segment, log, show, name, tag, adopt, retire, revisit, export,
assign."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table
from rich.tree import Tree

from segtrail.cli.app import (
    JSON_OPTION,
    QUIET_OPTION,
    RAW_OPTION,
    StepProgress,
    app,
    console,
    open_workspace,
    parse_list,
    parse_pairs,
    print_json,
)
from segtrail.engine.algorithms import declared_parameters
from segtrail.engine.algorithms.params import Param
from segtrail.errors import InvalidInput, SegtrailError
from segtrail.services.settings import ENGINES, check_engine

ALGORITHM_HELP = (
    "Default: segtrail chooses (latent class model for mixed data, k and weights from the "
    "data, reasons in the notes). Or: kmeans, lca (latent class / mixture for mixed data), "
    "dbscan (eps from the k-distance knee), hdbscan, gmm (k by BIC), agglomerative (small "
    "data only), bisecting (bisecting k-means). Its parameters are under Algorithm options."
)
ALGORITHM_PANEL = "Algorithm options"
ENGINE_OPTION = typer.Option(
    None,
    "--engine",
    help=f"Where the compute runs: {' or '.join(ENGINES)} (default: `segtrail config engine`, "
    "else local). History and results do not depend on it.",
    show_default=False,
)
SPARK_MASTER_OPTION = typer.Option(
    None,
    "--spark-master",
    help="With --engine spark: local[*] (default; or $SEGTRAIL_SPARK_MASTER, or `segtrail "
    "config spark_master`), spark://HOST:PORT or a Spark Connect sc:// URL.",
    show_default=False,
)


def _weights(text: str | None) -> dict[str, float] | None:
    pairs = parse_pairs(text, "--weights")
    try:
        weights = {k: float(v) for k, v in pairs.items()}
    except ValueError:
        raise SegtrailError(
            f"invalid --weights {text!r}: weights are numbers, e.g. age=2"
        ) from None
    if any(w < 0 for w in weights.values()):
        raise SegtrailError("weights cannot be negative")
    return weights or None


# --- algorithm options, one per declared parameter -----------------------------------------
# The options of `segment` that set algorithm parameters are generated from the declarations
# (segtrail.engine.algorithms, params.py), so a new algorithm's parameters appear here with
# their help, and an option can never exist that no algorithm reads. The CLI only turns text
# into values (`auto`, `2..12`); bounds and "does this algorithm take it" are checked by the
# declarations, in one place.


def option_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(param: Param) -> str:
    if param.default is None:
        return ""  # chosen by the fit; the help says how
    if isinstance(param.default, list):
        return f"{param.default[0]}..{param.default[1]}"
    return str(param.default)


def option_help(entries: list[tuple[str, Param]]) -> str:
    """Help of one algorithm option: the algorithms that take it, what it does and its
    default for each."""
    names = "/".join(name for name, _ in entries)
    if len({param.help for _, param in entries}) > 1:  # a different meaning per algorithm
        return " ".join(
            f"{name}: {param.help}" + (f" (default {d})." if (d := _default_text(param)) else ".")
            for name, param in entries
        )
    defaults = {name: _default_text(param) for name, param in entries}
    if len(set(defaults.values())) == 1:
        default = defaults[entries[0][0]]
        return f"{names}: {entries[0][1].help}" + (f" (default {default})." if default else ".")
    per = ", ".join(f"{value} for {name}" for name, value in defaults.items())
    return f"{names}: {entries[0][1].help} (default {per})."


def _option_type(param: Param) -> Any:
    return Optional[param.kind if param.kind in (int, float) else str]  # noqa: UP045 (typer)


def parse_algorithm_value(name: str, param: Param, value: Any) -> Any:
    """A value typed on the command line as the declaration expects it: `2..12` for a range,
    a whole number where a number is accepted besides words (`--k 5`); the rest as typed."""
    if not isinstance(value, str):
        return value
    if param.kind is list:
        low, sep, high = value.partition("..")
        if not sep or not _is_whole(low) or not _is_whole(high):
            raise SegtrailError(f"invalid {option_flag(name)} {value!r}: expected LOW..HIGH")
        return [int(low), int(high)]
    if _is_whole(value) and any(getattr(c, "kind", None) is int for c in param.accepts):
        return int(value)
    return value


def _is_whole(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def with_algorithm_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add one option per declared algorithm parameter to ``command``, which receives those
    given as ``algorithm_params={name: value}``."""
    declared = declared_parameters()
    base = inspect.signature(command)
    kept = [p for p in base.parameters.values() if p.name != "algorithm_params"]
    extra = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                None, option_flag(name), help=option_help(entries), rich_help_panel=ALGORITHM_PANEL
            ),
            annotation=_option_type(entries[0][1]),
        )
        for name, entries in declared.items()
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        given = {}
        for name, entries in declared.items():
            value = kwargs.pop(name)
            if value is not None:
                given[name] = parse_algorithm_value(name, entries[0][1], value)
        command(**kwargs, algorithm_params=given)

    wrapper.__signature__ = base.replace(parameters=kept + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{p.name: command.__annotations__[p.name] for p in kept},
        **{p.name: p.annotation for p in extra},
        "return": None,
    }
    return wrapper


def _shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, with an ellipsis when something was left out."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


@app.command()
@with_algorithm_options
def segment(
    dataset: str = typer.Option(..., "--dataset", "-d", help="NAME or NAME@N to cluster."),
    lens: str = typer.Option(..., "--lens", "-l", help="The team's lens (marketing, product...)."),
    hypothesis: str = typer.Option(
        ..., "--hypothesis", "-m", help="Why these features, what you expect to find."
    ),
    features: str = typer.Option(None, "--features", help="Comma-separated columns to use."),
    exclude: str = typer.Option(None, "--exclude", help="Comma-separated columns to leave out."),
    algorithm: str = typer.Option(None, "--algorithm", "-a", help=ALGORITHM_HELP),
    parent: str = typer.Option(
        None, "--parent", help="LENS@N this hypothesis revises (default: the lens's newest)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same result)."),
    weights: str = typer.Option(None, "--weights", help="Column weights, e.g. spend=2,age=0.5."),
    engine: str = ENGINE_OPTION,
    spark_master: str = SPARK_MASTER_OPTION,
    quiet: bool = QUIET_OPTION,
    json_output: bool = JSON_OPTION,
    algorithm_params: dict | None = None,
) -> None:
    """Cluster a dataset and record the result as a new version LENS@N of one hypothesis."""
    from segtrail.services.segmentations import check_algorithm_params

    # Every option is checked before the workspace is opened (opening may migrate it).
    given = dict(algorithm_params or {})
    options = {
        "features": parse_list(features),
        "exclude": parse_list(exclude),
        "algorithm": algorithm,
        "parent": parent,
        "seed": seed,
        "weights": _weights(weights),
        "engine": check_engine(engine) if engine else None,
        "spark_master": spark_master,
    }
    if algorithm in (None, "auto"):
        # segtrail chooses the algorithm: only k and its range may be given, checked as
        # k-means declares them; any other algorithm option is refused by the service
        k_options = {n: given.pop(n) for n in ("k", "k_range") if n in given}
        checked = check_algorithm_params("kmeans", k_options)
        options.update(k=checked.get("k"), k_range=checked.get("k_range"), params=given)
        if given:
            raise InvalidInput(
                f"--{next(iter(given)).replace('_', '-')} belongs to a chosen algorithm: "
                "give --algorithm too, or leave it out and segtrail chooses"
            )
    else:
        options["params"] = check_algorithm_params(algorithm, given)
    ws = open_workspace()
    with StepProgress(quiet or json_output) as progress:
        result = ws.segment(dataset, lens, hypothesis, progress=progress, **options)
    if json_output:
        print_json(_without_profiles(result))
        return
    console.print(
        f"{result['version']}  ({result['algorithm']}, k={result['k']}, "
        f"dataset {result['dataset']})"
    )
    for note in result["notes"]:
        console.print(f"  note: {note}")
    _print_quality(result)
    _print_segments(result)
    console.print(
        f'\nNext: segtrail name {result["version"]} SEGMENT "Name" · '
        f"segtrail report {result['version']} --out report.html · "
        f"segtrail adopt {result['version']}"
    )


def _without_profiles(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "profiles"}


def _print_quality(result: dict) -> None:
    q = result["metrics"]["quality"]
    parts = []
    if q.get("silhouette") is not None:
        parts.append(f"silhouette {q['silhouette']:.3f}")
    if q.get("calinski_harabasz") is not None:
        parts.append(f"Calinski-Harabasz {q['calinski_harabasz']:,.0f}")
    if q.get("davies_bouldin") is not None:
        parts.append(f"Davies-Bouldin {q['davies_bouldin']:.3f}")
    stability = result["metrics"].get("stability") or {}
    if stability.get("ari_mean") is not None:
        parts.append(f"bootstrap stability ARI {stability['ari_mean']:.2f}")
    if q.get("unassigned"):
        parts.append(f"{q['unassigned']:,} unassigned ({q['unassigned_share']:.1%})")
    console.print("  quality: " + ", ".join(parts))


def _print_k_curve(result: dict) -> None:
    """The k curve: one row per k with the criteria that were measured, the chosen k and
    the runner-up marked."""
    selection = result["metrics"].get("k_selection") or {}
    curve = selection.get("curve") or []
    if not curve:
        return
    columns = [
        (key, title) for key, title in K_COLUMNS if any(row.get(key) is not None for row in curve)
    ]
    table = Table("k", *[title for _, title in columns], "", box=None)
    for row in curve:
        mark = ""
        if row["k"] == selection.get("chosen_k"):
            mark = "<- chosen"
        elif row["k"] == selection.get("runner_up"):
            mark = "runner-up" + (" (close)" if selection.get("runner_up_close") else "")
        table.add_row(str(row["k"]), *[_number(row.get(key)) for key, _ in columns], mark)
    console.print(f"k curve ({selection.get('rule', '')}):")
    console.print(table)


K_COLUMNS = (
    ("bic", "BIC"),
    ("icl", "ICL"),
    ("stability", "split-half stability"),
    ("inertia", "inertia"),
    ("silhouette", "silhouette"),
    ("score", "score"),
)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


def _print_contributions(result: dict) -> None:
    """Per feature, in plain words: how much of it the segments explain, and whether it was
    left out as noise."""
    rows = [f for f in result["features"] if "explained" in f]
    if not rows:
        return
    console.print("what the segments explain of each feature:")
    for f in sorted(rows, key=lambda f: -f["explained"]):
        if f.get("model_weight") == 0 and f["noise"]:
            verdict = "pure noise: left out of the segments (weight 0)"
        elif f["noise"]:
            verdict = "the segments barely differ on it (no more than chance)"
        else:
            verdict = "differs between segments"
        what = "variation" if f["kind"] in ("numeric", "datetime") else "spread over its levels"
        console.print(f"  {f['column']}: {f['explained']:.0%} of its {what}; {verdict}")


def _print_segments(result: dict) -> None:
    from segtrail.engine.stability import stability_word

    table = Table("seg", "customers", "share", "stability", "name", "description", box=None)
    for s in result["segments"]:
        stab = s["stability"]
        table.add_row(
            str(s["segment"]) if s["segment"] >= 0 else "-1",
            f"{s['size']:,}",
            f"{s['share']:.1%}",
            f"{stab:.2f} {stability_word(stab)}" if stab is not None else "",
            s["name"]
            + (" " + " ".join(f"[{k}={v}]" for k, v in s["tags"].items()) if s["tags"] else ""),
            s["description"],
        )
    console.print(table)


@app.command()
def log(
    lens: str = typer.Argument(None, help="Only this lens (default: every lens)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """The lineage of hypotheses as a tree: version, date, author, algorithm, k, status."""
    rows = open_workspace().log(lens)
    if json_output:
        print_json(rows)
        return
    if not rows:
        console.print(
            "no segmentations yet; try: segtrail segment --dataset NAME --lens LENS -m TEXT"
        )
        return
    by_version = {r["version"]: r for r in rows}
    children: dict[str | None, list[dict]] = {}
    for r in rows:
        parent = r["parent"] if r["parent"] in by_version else None
        children.setdefault(parent, []).append(r)
    for root in children.get(None, []):
        tree = Tree(_log_line(root))
        _grow(tree, root, children)
        console.print(tree)


def _log_line(r: dict) -> str:
    return (
        f"{r['version']}  {r['created_at'][:10]}  {r['author']}  {r['algorithm']} k={r['k']}  "
        f"[{r['status']}]  {r['dataset']}  {_shorten(r['hypothesis'], 70)}"
    )


def _grow(tree: Tree, row: dict, children: dict) -> None:
    for child in children.get(row["version"], []):
        _grow(tree.add(_log_line(child)), child, children)


@app.command()
def show(
    ref: str = typer.Argument(..., help="LENS@N, or LENS for its adopted (else newest) version."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Hypothesis, parameters, metrics and every segment with its profile."""
    result = open_workspace().show(ref)
    if json_output:
        print_json(_without_profiles(result))
        return
    console.print(
        f"{result['version']}  [{result['status']}]  created {result['created_at'][:19]} "
        f"by {result['author']}"
    )
    console.print(f"hypothesis: {result['hypothesis']}")
    console.print(
        f"dataset: {result['dataset']}   parent: {result['parent'] or '-'}   seed: {result['seed']}"
    )
    params = {k: v for k, v in result["parameters"].items() if not isinstance(v, dict | list)}
    console.print(
        f"algorithm: {result['algorithm']}  " + ", ".join(f"{k}={v}" for k, v in params.items())
    )
    console.print(
        "features: "
        + ", ".join(
            f"{f['column']} ({f['transform']})" if f.get("transform") else f["column"]
            for f in result["features"]
        )
    )
    for note in result["notes"]:
        console.print(f"note: {note}")
    _print_k_curve(result)
    _print_contributions(result)
    _print_quality(result)
    _print_segments(result)
    for s in result["segments"]:
        if len(s["name_history"]) > 1:
            steps = " -> ".join(
                f"{h['name']} ({h['author']}, {h['at'][:10]}"
                + (f", carried from {h['carried_from']})" if h.get("carried_from") else ")")
                for h in s["name_history"]
            )
            # `show` lists the newest few names; the rest are one command away
            older = s.get("earlier_names_total", 0) - (len(s["name_history"]) - 1)
            if older > 0:
                steps = (
                    f"{older:,} older (`segtrail why --segment {result['version']}:"
                    f"{s['segment']}`) -> {steps}"
                )
            console.print(f"  segment {s['segment']} names: {steps}")
    if len(result["status_history"]) > 1:
        console.print(
            "status: "
            + " -> ".join(
                f"{h['status']} ({h['author']}, {h['at'][:10]})" for h in result["status_history"]
            )
        )


@app.command()
def name(
    ref: str = typer.Argument(..., help="LENS@N"),
    segment: int = typer.Argument(..., help="Segment label (0 = largest)."),
    new_name: str = typer.Argument(..., metavar="NAME", help="The segment's new name."),
    description: str = typer.Option(None, "--description", help="A description in plain words."),
) -> None:
    """Name a segment (the old name stays in the history)."""
    result = open_workspace().name(ref, segment, new_name, description)
    console.print(
        f"{result['version']} segment {segment}: {result['previous']!r} -> {result['name']!r}"
    )


@app.command()
def tag(
    ref: str = typer.Argument(..., help="LENS@N"),
    segment: int = typer.Argument(..., help="Segment label."),
    pair: str = typer.Argument(..., metavar="KEY=VALUE", help="e.g. fit=poor; KEY= removes it."),
) -> None:
    """Tag a segment with key=value (e.g. fit=poor), recorded as an event."""
    key, eq, value = pair.partition("=")
    if not eq:
        raise SegtrailError(f"invalid tag {pair!r}: expected KEY=VALUE")
    result = open_workspace().tag(ref, segment, key, value.strip() or None)
    state = f"{result['key']}={result['value']}" if result["value"] else f"{result['key']} removed"
    console.print(f"{result['version']} segment {segment}: {state}")


@app.command()
def adopt(ref: str = typer.Argument(..., help="LENS@N")) -> None:
    """Make this version the lens's adopted one (the one its name refers to)."""
    result = open_workspace().adopt(ref)
    extra = f"; {result['superseded']} superseded" if result["superseded"] else ""
    console.print(f"{result['version']} adopted{extra}")


@app.command()
def retire(ref: str = typer.Argument(..., help="LENS@N")) -> None:
    """Retire a version: kept in the history, no longer in use."""
    result = open_workspace().retire(ref)
    console.print(f"{result['version']} retired (was {result['previous']})")


@app.command()
def revisit(
    ref: str = typer.Argument(..., help="LENS@N to re-run."),
    dataset: str = typer.Option(
        None, "--dataset", "-d", help="Newer data (default: latest version of the same dataset)."
    ),
    hypothesis: str = typer.Option(
        None, "--hypothesis", "-m", help="Override the hypothesis text."
    ),
    engine: str = ENGINE_OPTION,
    spark_master: str = SPARK_MASTER_OPTION,
    quiet: bool = QUIET_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Re-run an old hypothesis (same spec, algorithm, parameters, seed) on newer data as a new
    version whose parent is the old one."""
    if engine:
        check_engine(engine)
    ws = open_workspace()
    with StepProgress(quiet or json_output) as progress:
        result = ws.revisit(
            ref,
            dataset,
            hypothesis=hypothesis,
            progress=progress,
            engine=engine,
            spark_master=spark_master,
        )
    if json_output:
        print_json(_without_profiles(result))
        return
    console.print(
        f"{result['version']}  (revisit of {result['parent']} on {result['dataset']}, "
        f"k={result['k']})"
    )
    _print_quality(result)
    _print_segments(result)


@app.command()
def export(
    ref: str = typer.Argument(..., help="LENS@N"),
    out: Path = typer.Option(..., "--out", "-o", help="Output file, .csv or .parquet."),
    raw: bool = RAW_OPTION,
) -> None:
    """Write customer_id, segment, segment_name, distance_to_centre and confidence.

    distance_to_centre: distance to the mean of the customer's segment in the scaled feature
    space (smaller = more typical; NaN for noise). confidence, 0 to 1 (higher = surer): for
    gmm the model's probability of the segment; otherwise 1 - (distance to own centre /
    distance to the nearest other centre): 1 at the centre, 0 half-way to another segment.
    """
    result = open_workspace().export(ref, out, raw=raw)
    console.print(f"wrote {result['rows']:,} customers of {result['version']} to {result['out']}")


@app.command()
def assign(
    ref: str = typer.Argument(..., help="LENS@N whose segments to use."),
    file: Path = typer.Argument(..., help="New customers (CSV, Parquet or Excel)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file, .csv or .parquet."),
    raw: bool = RAW_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Put new customers into a version's segments using its stored fitted state."""
    result = open_workspace().assign(ref, file, out, raw=raw)
    if json_output:
        print_json(result)
        return
    counts = ", ".join(f"{k}: {v:,}" for k, v in result["segments"].items())
    console.print(
        f"assigned {result['rows']:,} customers to {result['version']} ({counts}); "
        f"wrote {result['out']}"
    )
