"""The plotly.js embedded in reports: the vendored "basic" partial bundle (scatter, bar, pie).

Reports draw only those trace types with plotly; everything else (profile heatmap, Sankey,
contingency table) is HTML or SVG written by segtrail. The full plotly.js that the plotly
package ships is ~4.8 MB, this bundle ~1.2 MB, so a report is a quarter of the size and
still one file that opens offline. See vendor/README.md for where the file comes from.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

BUNDLE = "plotly-basic.min.js"
TRACE_TYPES = frozenset({"scatter", "bar", "pie"})  # what the basic bundle registers


@functools.cache
def plotly_js() -> str:
    """The vendored minified bundle, as text to inline in a <script> element."""
    return resources.files("segtrail.report").joinpath("vendor", BUNDLE).read_text("utf-8")


def bundle_version() -> str:
    """The plotly.js version in the bundle's banner (e.g. "4.1.1")."""
    found = re.search(r"plotly\.js \(basic - minified\) v(\d+\.\d+\.\d+)", plotly_js()[:400])
    if found is None:  # a replaced file without the banner: say so rather than guess
        raise RuntimeError(f"{BUNDLE} has no version banner")
    return found.group(1)
