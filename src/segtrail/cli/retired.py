"""How a retired dataset or strategy is marked wherever it is still shown."""

from __future__ import annotations


def retired_line(kind: str, name: str, mark: dict) -> str:
    """One line: retired when and by whom (and why), and how to bring it back."""
    why = f": {mark['reason']}" if mark.get("reason") else ""
    return (
        f"retired on {mark['at'][:10]} by {mark['author']}{why} "
        f"(`segtrail {kind} restore {name}` brings it back)"
    )
