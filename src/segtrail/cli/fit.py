"""Tables that fit the terminal: text columns wrap, number columns are never cut, and when
even that is too wide the least useful columns are dropped (and said to be)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rich.table import Table

from segtrail.cli.app import SafeConsole, console

TEXT_MIN_WIDTH = 10
PIPED_WIDTH = 120  # piped or redirected output: a width a file viewer shows without scrolling


@dataclass(frozen=True)
class Column:
    header: str
    priority: int  # lower = dropped first when the table is too wide
    text: bool = False  # wraps (names); other columns are numbers and never wrap


def output_width() -> int:
    """The terminal's width; piped, $COLUMNS or PIPED_WIDTH."""
    if console.is_terminal:
        return console.width
    try:
        return int(os.environ.get("COLUMNS", PIPED_WIDTH))
    except ValueError:
        return PIPED_WIDTH


def fit_table(columns: list[Column], rows: list[list[str]], width: int) -> tuple[Table, list[str]]:
    """The table narrowed to `width`: returns it and the headers of the columns dropped.
    A header may hold line breaks; numbers set their column's width and are never cut."""
    needs = [_min_width(c, [r[i] for r in rows]) for i, c in enumerate(columns)]
    keep = list(range(len(columns)))
    dropped: list[str] = []
    # every column is padded by one space on each side
    while sum(needs[i] + 2 for i in keep) > width and len(keep) > 2:
        weakest = min(keep[1:], key=lambda i: (columns[i].priority, -i))
        keep.remove(weakest)
        dropped.append(columns[weakest].header.replace("\n", " "))
    table = Table(box=None)
    for i in keep:
        c = columns[i]
        if c.text:
            table.add_column(c.header, overflow="fold", min_width=needs[i])
        else:
            table.add_column(c.header, no_wrap=True, justify="right", min_width=needs[i])
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table, dropped


def _min_width(column: Column, cells: list[str]) -> int:
    header = max(len(line) for line in column.header.splitlines())
    if column.text:  # names wrap: as wide as the header, and room for a short word
        return max(header, TEXT_MIN_WIDTH)
    return max([header, *(len(c) for c in cells)])


def print_fitted(columns: list[Column], rows: list[list[str]]) -> list[str]:
    """Print the table fitted to the output's width; returns the dropped columns' headers."""
    width = output_width()
    table, dropped = fit_table(columns, rows, width)
    SafeConsole(highlight=False, markup=False, width=width).print(table)
    return dropped
