"""Algorithm parameters, declared once per algorithm and checked in one place.

The idea is scikit-learn's ``_parameter_constraints`` (e.g. ``"n_clusters":
[Interval(Integral, 1, None, closed="left")]`` in sklearn/cluster/_kmeans.py) validated by
``_fit_context`` before every fit: each algorithm lists its ``Param`` declarations (name,
accepted values, default, help, whether it pins the model for a refit), and
``check_params`` validates a request against them. ``Algorithm`` runs that check before
every ``fit`` (see base.py), the services run it before any data is read, and the CLI builds
its algorithm options from the same declarations, so a parameter cannot be accepted in one
place and ignored in another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from segtrail.errors import InvalidInput

# A declared default of AUTO means "worked out by the fit from the data" (eps from the
# k-distance knee, min_cluster_size from the sample size...); the fit records the value it
# chose in FitResult.params.
AUTO = None


@dataclass(frozen=True)
class Interval:
    """Numbers of one kind (``int`` or ``float``) between bounds; None = unbounded.

    ``closed`` says which bounds are included, as in scikit-learn: "left", "right",
    "both" or "neither".
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):  # numpy booleans are not Integral or Real either
            return False
        if self.kind is int and not isinstance(value, Integral):
            return False
        if self.kind is float and (not isinstance(value, Real) or not math.isfinite(value)):
            return False
        low_open = self.closed in ("right", "neither")
        high_open = self.closed in ("left", "neither")
        below = self.low is not None and (value < self.low or (low_open and value == self.low))
        above = self.high is not None and (value > self.high or (high_open and value == self.high))
        return not (below or above)

    def normalize(self, value: Any) -> int | float:
        return int(value) if self.kind is int else float(value)

    def describe(self) -> str:
        noun = "a whole number" if self.kind is int else "a number"
        return f"{noun} {self.bounds_text()}".strip()

    def bounds_text(self) -> str:
        low_op = ">=" if self.closed in ("left", "both") else ">"
        high_op = "<=" if self.closed in ("right", "both") else "<"
        parts = []
        if self.low is not None:
            parts.append(f"{low_op} {_fmt(self.low)}")
        if self.high is not None:
            parts.append(f"{high_op} {_fmt(self.high)}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Options:
    """One of a fixed set of words (scikit-learn's ``StrOptions``)."""

    values: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def normalize(self, value: Any) -> str:
        return str(value)

    def describe(self) -> str:
        words = [f"'{v}'" for v in self.values]
        return words[0] if len(words) == 1 else "one of " + ", ".join(words)


@dataclass(frozen=True)
class Range:
    """Two whole numbers LOW <= HIGH, both within ``bounds`` (e.g. the k searched)."""

    bounds: Interval

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
            return False
        low, high = value
        return self.bounds.accepts(low) and self.bounds.accepts(high) and low <= high

    def normalize(self, value: Any) -> list[int]:
        return [int(value[0]), int(value[1])]

    def describe(self) -> str:
        return f"two whole numbers low <= high, each {self.bounds.bounds_text()}"


@dataclass(frozen=True)
class Numbers:
    """A list of numbers of one kind, each >= ``low``: what segtrail itself passes from the
    data (a model matrix's column layout), never typed by a user."""

    kind: type
    low: float = 0

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            return False
        each = Interval(self.kind, self.low, None, closed="left")
        return all(each.accepts(v) for v in list(value))

    def normalize(self, value: Any) -> list:
        return [self.kind(v) for v in value]

    def describe(self) -> str:
        return f"a list of numbers >= {_fmt(self.low)}"


Constraint = Interval | Options | Range | Numbers


@dataclass(frozen=True)
class Param:
    """One declared parameter of an algorithm.

    A value is valid when any of ``accepts`` takes it (like scikit-learn's list of
    constraints). ``model`` marks parameters that define the fitted model: a refit (bootstrap
    stability, a re-run) passes the value the fit used, from ``FitResult.params``.
    """

    name: str
    accepts: tuple[Constraint, ...]
    default: Any
    help: str
    model: bool = True
    # False: segtrail passes it from the data (e.g. the model matrix's layout); no CLI option
    option: bool = True

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.accepts)

    @property
    def kind(self) -> type:
        """int, float, str or list: what the value is, for interfaces that parse text."""
        if any(isinstance(c, Range | Numbers) for c in self.accepts):
            return list
        numbers = [c.kind for c in self.accepts if isinstance(c, Interval)]
        if numbers and len(numbers) == len(self.accepts):
            return float if float in numbers else int
        return str


def check_params(algorithm: str, declared: tuple[Param, ...], params: dict) -> dict:
    """``params`` checked against ``declared``: every declared name, with the given value
    (normalized: numpy ints to int, ints to float where a number is asked...) or its default.

    A value of None counts as not given. Raises InvalidInput, one line in domain words, for a
    parameter the algorithm does not take or a value outside its declaration.
    """
    by_name = {p.name: p for p in declared}
    given = {name: value for name, value in (params or {}).items() if value is not None}
    unknown = [name for name in given if name not in by_name]
    if unknown:
        raise InvalidInput(_unknown_message(algorithm, unknown, declared), field=unknown[0])
    checked = {}
    for param in declared:
        if param.name not in given:
            checked[param.name] = param.default
            continue
        value = given[param.name]
        for constraint in param.accepts:
            if constraint.accepts(value):
                checked[param.name] = constraint.normalize(value)
                break
        else:
            raise InvalidInput(
                f"{param.name} must be {param.describe()} for {algorithm}, got {value!r}",
                field=param.name,
            )
    return checked


def _unknown_message(algorithm: str, unknown: list[str], declared: tuple[Param, ...]) -> str:
    names = ", ".join(unknown)
    takes = ", ".join(p.name for p in declared) or "no parameters"
    if set(unknown) & {"k", "k_range"} and "k" not in {p.name for p in declared}:
        return f"{algorithm} finds the number of segments itself: leave out {names}"
    return f"{algorithm} does not take {names} (it takes: {takes})"


def _fmt(number: float) -> str:
    return f"{number:g}"
