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


# Every action the history records, in the pages' words: as a sentence's verb on the home
# page ("ana segmented marketing@1") and as a heading on the history page ("segmentation made").
# tests/web/pages/test_action_words.py records each action for real and checks it is here.
ACTIONS: dict[str, tuple[str, str]] = {
    "init": ("created the workspace", "workspace created"),
    "config": ("changed the setting", "setting changed"),
    "ingest": ("uploaded", "data imported"),
    "segment": ("segmented", "segmentation made"),
    "revisit": ("re-ran the hypothesis as", "hypothesis re-run"),
    "name": ("named segment", "segment renamed"),
    "tag": ("tagged segment", "segment tagged"),
    "adopt": ("adopted", "version adopted"),
    "retire": ("retired", "version retired"),
    "dataset-retire": ("retired the customer data", "customer data retired"),
    "dataset-restore": ("restored the customer data", "customer data restored"),
    "strategy-retire": ("retired strategy", "strategy retired"),
    "strategy-restore": ("restored strategy", "strategy restored"),
    "strategy-add": ("added strategy", "strategy written"),
    "strategy-edit": ("changed strategy", "strategy changed"),
    "plan-map": ("mapped a strategy on", "strategy mapped"),
    "plan-unmap": ("unmapped a strategy from", "strategy unmapped"),
    "plan-revert": ("went back to an earlier plan of", "plan reverted"),
    "carry": ("carried the plan to", "plan carried forward"),
    "inherit-names": ("carried segment names onto", "names carried forward"),
    "campaign-import": ("imported campaign", "campaign imported"),
    "campaign-design": ("designed campaign", "campaign designed"),
    "holdout-create": ("created the holdout", "holdout set"),
    "lookalike": ("built lookalike audience", "lookalike built"),
    "audience-export": ("exported audience", "audience exported"),
    "export": ("exported", "exported"),
    "user-add": ("added user", "user added"),
    "user-disable": ("disabled user", "user disabled"),
    "user-role": ("changed the role of", "role changed"),
    "user-password": ("changed the password of", "password changed"),
    "lens-grant": ("gave lens rights to", "lens rights given"),
    "lens-revoke": ("took lens rights from", "lens rights taken away"),
    "token-create": ("made an API token for", "API token made"),
    "token-revoke": ("revoked an API token of", "API token revoked"),
}


def action_words(action: str) -> str:
    """The action as a sentence's verb (an action recorded by a newer segtrail: as recorded)."""
    return ACTIONS[action][0] if action in ACTIONS else action.replace("-", " ")


def action_heading(action: str) -> str:
    """The action as a short heading, for the history page's list and its filter."""
    return ACTIONS[action][1] if action in ACTIONS else action.replace("-", " ")
