"""Home: every lens with its adopted and newest versions, strategies and where they run,
recent events, and what needs someone's review."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from segtrail.services.workspace import Workspace
from segtrail.web.deps import current_principal, workspace_for
from segtrail.web.pages.common import render
from segtrail.web.pages.retiring import control, outcome_words
from segtrail.web.pages.words import action_words

router = APIRouter(include_in_schema=False)


@dataclass
class LensOverview:
    lens: str
    adopted: str | None
    newest: str
    versions: int
    newest_hypothesis: str
    planned: str | None = None  # the version whose plan the home page shows
    entries: list[dict] = field(default_factory=list)


def lens_overviews(ws: Workspace) -> list[LensOverview]:
    """One line per lens: its adopted version (if any), its newest, and the plan of the
    adopted version (else the newest planned one)."""
    from segtrail.services.plans import plan_state
    from segtrail.services.segmentations import resolve_segmentation

    by_lens: dict[str, list] = {}
    for entry in ws.log():  # newest first
        by_lens.setdefault(entry.lens, []).append(entry)
    out = []
    for lens in sorted(by_lens):
        entries = by_lens[lens]
        adopted = next((e.version for e in entries if e.status == "adopted"), None)
        overview = LensOverview(
            lens=lens,
            adopted=adopted,
            newest=entries[0].version,
            versions=len(entries),
            newest_hypothesis=entries[0].hypothesis,
        )
        candidates = ([adopted] if adopted else []) + [e.version for e in entries]
        for ref in candidates:
            state = plan_state(ws, resolve_segmentation(ws, ref))
            if state is not None and state.entries:
                overview.planned, overview.entries = ref, state.entries
                break
        out.append(overview)
    return out


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, retired: str = "", restored: str = "", ws: Workspace = Depends(workspace_for)
) -> HTMLResponse:
    lenses = lens_overviews(ws)
    everything = ws.strategies(include_retired=True)
    strategies = [s for s in everything if not s.retired]
    # retired strategies stay in sight, marked, with the way back
    principal = current_principal(request)
    retired_strategies = [
        (s, control(principal, ws, "strategy", s.name, s.retired, "home"))
        for s in everything
        if s.retired
    ]
    # where each strategy runs: (version, status) per plan shown above
    runs: dict[str, list[tuple[str, str]]] = {s.name: [] for s in strategies}
    review = []
    for overview in lenses:
        for entry in overview.entries:
            runs.setdefault(entry["strategy"], []).append((overview.planned, entry["status"]))
            if entry["status"] == "needs-review":
                review.append((overview.planned, entry))
    return render(
        request,
        "home.html",
        title="Home",
        nav="/",
        lenses=lenses,
        strategies=strategies,
        retired_strategies=retired_strategies,
        flash=outcome_words(
            "strategy",
            retired,
            restored,
            {s.name for s in everything},
            {s.name for s in everything if s.retired},
        ),
        runs=runs,
        review=review,
        events=ws.events(limit=12),
        action_words=action_words,
        datasets=ws.datasets(),
    )
