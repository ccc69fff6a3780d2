"""Service messages in the words of the pages.

The services' messages end with what to type next on the command line ("no segmentation
x@9; `segtrail log` lists them"). A person on the pages has no terminal: the hint is
replaced by where the pages do the same (the home page lists the versions), and a hint
with no page counterpart is dropped, so the message keeps its first part, which says what
went wrong. The services' messages stay as they are (the CLI and the API show them)."""

from __future__ import annotations

import re

# (CLI hint as the services write it, the pages' words), tried in order.
_HINTS: tuple[tuple[str, str], ...] = (
    (r"`segtrail log` lists them", "the home page lists the versions"),
    (r"`segtrail datasets` lists them", "the Customer data page lists them"),
    (r"`segtrail strategy list` lists them", "the Plans page lists the strategies"),
    (r"`segtrail audience list` shows them", "the Audiences page lists them"),
    (r"`segtrail campaign designs` lists them", "the Campaigns page lists them"),
    (r"add it with `segtrail strategy add`", "add it on the Plans page"),
    (r"`segtrail strategy list`", "the Plans page lists the strategies"),
    (r"create one with `segtrail segment`", "create one on the New segmentation page"),
    (r"import one with `segtrail campaign import`", "import one on the Campaigns page"),
    (r"map it first with `segtrail plan map`", "map it first on the plan board"),
    (
        r"`segtrail (?:dataset|strategy) restore [^`]*` brings it back",
        "restoring it brings it back",
    ),
    (r"run `segtrail fsck[^`]*`", "ask the workspace's admin to check it"),
    (r"Run `segtrail fsck[^`]*`", "Ask the workspace's admin to check it"),
)
_CLAUSE = re.compile(
    r"\s*(?:\([^()]*`segtrail [^`]*`[^()]*\)|[;:,]?[^;:,.()]*`segtrail [^`]*`[^;.()]*)"
)


def page_words(message: str) -> str:
    """`message` with its command-line hints in the pages' words (or without them)."""
    for pattern, words in _HINTS:
        message = re.sub(pattern, words, message)
    message = _CLAUSE.sub("", message).strip()
    return message.rstrip(";:, ")
