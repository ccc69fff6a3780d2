"""Numbers and summaries in plain words, for the pages (a column's summary, which the CLI
prints too, is segtrail.report.words.column_summary)."""

from __future__ import annotations

from typing import Any


def share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def quality_words(quality: dict[str, Any]) -> str:
    """The silhouette in words: how clearly customers fall into one segment or another."""
    sil = quality.get("silhouette")
    if sil is None:
        return "separation not measured"
    if sil >= 0.5:
        words = "clearly separated"
    elif sil >= 0.25:
        words = "reasonably separated"
    elif sil >= 0.1:
        words = "overlapping"
    else:
        words = "barely separated"
    return f"{words} (silhouette {sil:.2f})"


def stability_words(value: float | None) -> str:
    """How often a segment comes back when the customers are resampled and re-clustered
    (mean bootstrap Jaccard), in Hennig's words."""
    from segtrail.engine.stability import stability_word

    if value is None:
        return "not measured"
    word = stability_word(value)
    advice = {"unstable": ": may not come back on new data", "doubtful": ": read with care"}
    return f"{word} ({value:.2f}){advice.get(word, '')}"


def version_stability(stability: dict[str, Any]) -> str:
    """The whole version's stability: how alike the bootstrap re-fits are (mean ARI)."""
    ari = stability.get("ari_mean")
    if ari is None:
        return "not measured"
    if ari >= 0.85:
        words = "the same segments come back almost every time"
    elif ari >= 0.65:
        words = "mostly the same segments come back"
    else:
        words = "the segments change a lot when the data is resampled"
    return f"{words} (agreement {ari:.2f})"


# The event log's actions as a sentence's verb ("ana segmented marketing@1").
ACTIONS = {
    "ingest": "uploaded",
    "segment": "segmented",
    "revisit": "re-ran the hypothesis as",
    "name": "named segment",
    "tag": "tagged segment",
    "adopt": "adopted",
    "retire": "retired",
    "dataset-retire": "retired the customer data",
    "dataset-restore": "restored the customer data",
    "strategy-retire": "retired strategy",
    "strategy-restore": "restored strategy",
    "strategy-add": "added strategy",
    "strategy-edit": "changed strategy",
    "plan-map": "mapped a strategy on",
    "plan-unmap": "unmapped a strategy from",
    "plan-revert": "went back to an earlier plan of",
    "carry": "carried the plan to",
    "inherit-names": "carried segment names onto",
    "campaign-import": "imported campaign",
    "campaign-design": "designed campaign",
    "holdout-create": "created the holdout",
    "lookalike": "built lookalike audience",
    "audience-export": "exported audience",
    "export": "exported",
    "user-add": "added user",
    "user-disable": "disabled user",
}


def action_words(action: str) -> str:
    return ACTIONS.get(action, action.replace("-", " "))
