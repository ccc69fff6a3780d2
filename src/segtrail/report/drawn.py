"""Figures the report draws itself, as inline SVG and coloured HTML tables: the Sankey of how
customers moved, and heatmap cells (profiles, contingency).

Why not plotly: a Sankey and a heatmap need the full plotly.js (~4.8 MB), while everything
else in a report fits the 1.2 MB basic bundle; drawn here they cost a few kilobytes, their
labels wrap instead of being cut, and the diff report needs no JavaScript at all.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from markupsafe import Markup

NOISE_COLOR = "#9e9e9e"
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d",
)  # fmt: skip

CHAR_WIDTH = 7.0  # px per character of the 12 px label font (an upper estimate for wrapping)
LINE = 15  # px between label lines
NODE_WIDTH = 16
NODE_GAP = 14
MIN_NODE = 4  # px: a tiny segment still shows as a bar


def colors_for(labels: list[int]) -> dict[int, str]:
    """A colour per segment label: the palette in label order, grey for unassigned (-1)."""
    ordered = sorted(label for label in labels if label >= 0)
    colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(ordered)}
    colors.update({label: NOISE_COLOR for label in labels if label < 0})
    return colors


def matched_colors(diff: dict, colors_a: dict[int, str]) -> dict[int, str]:
    """Colours for B's segments that follow A's: a B segment that keeps an A segment (the
    diff's mutual best match, fate ``kept``) wears that segment's colour; every other B
    segment gets a palette colour no A segment uses, so one colour never means two things."""
    kept = {
        s["best_match"]: s["segment"]
        for s in diff["segments_a"]
        if s["fate"] == "kept" and s["best_match"] is not None
    }
    labels_b = [s["segment"] for s in diff["segments_b"]]
    used = set(colors_a.values())
    spare = [c for c in PALETTE if c not in used] or list(PALETTE)
    out: dict[int, str] = {}
    fresh = 0
    for label in sorted(labels_b, key=lambda s: (s < 0, s)):
        if label < 0:
            out[label] = NOISE_COLOR
        elif label in kept:
            out[label] = colors_a[kept[label]]
        else:
            out[label] = spare[fresh % len(spare)]
            fresh += 1
    return out


def complete(colors: dict[int, str], labels: list[int]) -> dict[int, str]:
    """`colors` with a colour for every label in `labels`: grey for unassigned, else the
    first palette colour not in use (a label the colouring did not know about)."""
    out = dict(colors)
    spare = [c for c in PALETTE if c not in set(out.values())] or list(PALETTE)
    for label in sorted(set(labels) - set(out), key=lambda s: (s < 0, s)):
        out[label] = NOISE_COLOR if label < 0 else spare.pop(0) if spare else PALETTE[0]
    return out


def alpha(color: str, a: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{a})"


def wrap(text: str, width: int) -> list[str]:
    """Words into lines of at most `width` characters (a longer word gets its own line)."""
    lines: list[str] = []
    for word in str(text).split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


# --- the Sankey ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    label: int
    name: str
    color: str
    customers: int  # common customers (what the bands carry)


def sankey_svg(
    transitions: list[dict],
    nodes_a: list[Node],
    nodes_b: list[Node],
    title_a: str,
    title_b: str,
    width: int = 1180,
) -> Markup:
    """Two columns of segment bars (A left, B right), bands sized by the customers moving
    between them. Each bar has its segment's colour and name; each band has A's colour and a
    tooltip. B is ordered by where its customers came from, which keeps bands from crossing
    where they need not."""
    flows = [t for t in transitions if t["customers"] > 0]
    pos_a = {n.label: i for i, n in enumerate(nodes_a)}
    weight: dict[int, float] = {}
    mass: dict[int, int] = {}
    for t in flows:
        weight[t["to"]] = weight.get(t["to"], 0.0) + pos_a.get(t["from"], 0) * t["customers"]
        mass[t["to"]] = mass.get(t["to"], 0) + t["customers"]
    nodes_b = sorted(
        nodes_b,
        key=lambda n: (n.label < 0, weight.get(n.label, 0) / max(mass.get(n.label, 0), 1)),
    )
    label_w = _label_width([*nodes_a, *nodes_b], width)
    chars = int(label_w / CHAR_WIDTH)
    lines_a = {n.label: _node_lines(n, chars) for n in nodes_a}
    lines_b = {n.label: _node_lines(n, chars) for n in nodes_b}
    # bars share one scale; a bar's slot is at least as tall as its label, so labels never
    # run into each other, and the picture is as tall as the taller column needs
    total = max(sum(n.customers for n in nodes_a), sum(n.customers for n in nodes_b), 1)
    scale = max(300, 40 * max(len(nodes_a), len(nodes_b))) / total
    top, bottom = 34, 10
    x_a, x_b = label_w + 8, width - label_w - 8 - NODE_WIDTH
    box_a, end_a = _stack(nodes_a, lines_a, scale, top)
    box_b, end_b = _stack(nodes_b, lines_b, scale, top)
    height = int(max(end_a, end_b) + bottom)
    out = [
        f'<svg class="sankey" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{_e(title_a)} to {_e(title_b)}: how customers moved" '
        'font-size="12">',
        f'<text class="col-title" x="{x_a + NODE_WIDTH}" y="16" text-anchor="end" '
        f'font-weight="600">{_e(title_a)}</text>',
        f'<text class="col-title" x="{x_b}" y="16" font-weight="600">{_e(title_b)}</text>',
    ]
    # bands: stacked inside each bar in the order of the other side
    used_a = {n.label: 0.0 for n in nodes_a}
    used_b = {n.label: 0.0 for n in nodes_b}
    order_b = {n.label: i for i, n in enumerate(nodes_b)}
    color_a = {n.label: n.color for n in nodes_a}
    name_a = {n.label: n.name for n in nodes_a}
    name_b = {n.label: n.name for n in nodes_b}
    size_a = {n.label: n.customers for n in nodes_a}
    for t in sorted(flows, key=lambda t: (pos_a[t["from"]], order_b[t["to"]])):
        h = t["customers"] * scale
        y0 = box_a[t["from"]][0] + used_a[t["from"]]
        y1 = box_b[t["to"]][0] + used_b[t["to"]]
        used_a[t["from"]] += h
        used_b[t["to"]] += h
        x0, x1 = x_a + NODE_WIDTH, x_b
        xm = (x0 + x1) / 2
        share = t["customers"] / max(size_a[t["from"]], 1)
        tip = (
            f"{name_a[t['from']]} \u2192 {name_b[t['to']]}: {t['customers']:,} customers "
            f"({share:.0%} of {name_a[t['from']]})"
        )
        out.append(
            f'<path class="band" data-from="{t["from"]}" data-to="{t["to"]}" '
            f'd="M{x0:.1f},{y0:.1f} C{xm:.1f},{y0:.1f} {xm:.1f},{y1:.1f} '
            f"{x1:.1f},{y1:.1f} L{x1:.1f},{y1 + h:.1f} C{xm:.1f},{y1 + h:.1f} {xm:.1f},"
            f'{y0 + h:.1f} {x0:.1f},{y0 + h:.1f} Z" fill="{alpha(color_a[t["from"]], 0.35)}">'
            f"<title>{_e(tip)}</title></path>"
        )
    for side, nodes, boxes, lines, x, anchor in (
        ("a", nodes_a, box_a, lines_a, x_a, "end"),
        ("b", nodes_b, box_b, lines_b, x_b, "start"),
    ):
        for n in nodes:
            y, h = boxes[n.label]
            out.append(
                f'<rect class="node" data-side="{side}" data-segment="{n.label}" '
                f'x="{x}" y="{y:.1f}" '
                f'width="{NODE_WIDTH}" height="{h:.1f}" fill="{n.color}">'
                f"<title>{_e(n.name)}: {n.customers:,} customers</title></rect>"
            )
            tx = x - 6 if anchor == "end" else x + NODE_WIDTH + 6
            # centred in the bar's slot (the bar, or the label when the bar is shorter)
            centre = y + max(h, len(lines[n.label]) * LINE) / 2
            first = centre - (len(lines[n.label]) - 1) * LINE / 2 + 4
            spans = "".join(
                f'<tspan x="{tx}" y="{first + i * LINE:.1f}"'
                + (' fill="#666"' if i == len(lines[n.label]) - 1 else "")
                + f">{_e(line)}</tspan>"
                for i, line in enumerate(lines[n.label])
            )
            out.append(f'<text class="node-label" text-anchor="{anchor}">{spans}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _label_width(nodes: list[Node], width: int) -> float:
    longest = max((len(n.name) for n in nodes), default=10)
    return min(max(longest, 24) * CHAR_WIDTH + 12, width * 0.3)


def _node_lines(n: Node, chars: int) -> list[str]:
    """The name, wrapped, then '#label · customers' (the last line, drawn muted)."""
    count = f"{n.customers:,} customers"
    return [*wrap(n.name, chars), count if n.label < 0 else f"#{n.label} \u00b7 {count}"]


def _stack(
    nodes: list[Node], lines: dict[int, list[str]], scale: float, top: float
) -> tuple[dict[int, tuple[float, float]], float]:
    """(y, height) of each bar, top to bottom, and where the column ends; a bar's slot is
    tall enough for its label."""
    boxes, y = {}, float(top)
    for n in nodes:
        h = max(n.customers * scale, MIN_NODE)
        boxes[n.label] = (y, h)
        y += max(h, len(lines[n.label]) * LINE) + NODE_GAP
    return boxes, y - NODE_GAP


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# --- heatmap cells -------------------------------------------------------------------------

BLUE, WHITE, RED = (33, 102, 172), (247, 247, 247), (178, 24, 43)
DARK_BLUE = (8, 48, 107)


def diverging(value: float | None, bound: float) -> str:
    """CSS for a cell of a -bound..bound scale: blue below zero, red above (RdBu)."""
    if value is None or bound <= 0:
        return ""
    t = max(-1.0, min(1.0, value / bound))
    end = RED if t > 0 else BLUE
    rgb = tuple(round(w + (e - w) * abs(t)) for w, e in zip(WHITE, end, strict=True))
    ink = "#fff" if abs(t) > 0.6 else "#222"
    return f"background: rgb{rgb}; color: {ink}"


def sequential(share: float) -> str:
    """CSS for a cell of a 0..1 scale (white to dark blue)."""
    t = max(0.0, min(1.0, share))
    rgb = tuple(round(w + (e - w) * t) for w, e in zip(WHITE, DARK_BLUE, strict=True))
    ink = "#fff" if t > 0.55 else "#222"
    return f"background: rgb{rgb}; color: {ink}"
