"""The plan board: strategies x segments of one version; add a strategy, map it to some
segments (or all customers) with a rationale and a status, unmap it, go back to an earlier
revision; the history of every revision of the lens's plans underneath."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from segtrail.errors import InvalidInput, SegtrailError
from segtrail.services.workspace import Workspace
from segtrail.web.deps import csrf_protect, current_principal, workspace_for
from segtrail.web.hints import page_words
from segtrail.web.pages.common import render, see_other
from segtrail.web.pages.retiring import control, landing, outcome_words, require_retire

router = APIRouter(include_in_schema=False)

STATUSES = {"active": "Active", "paused": "Paused", "not-viable": "Not viable"}


def plan_url(ref: str) -> str:
    return f"/plans/{ref}"


@router.get("/plans", response_class=HTMLResponse)
def plans_index(request: Request, ws: Workspace = Depends(workspace_for)) -> Response:
    """Which version's plan to open: each lens's versions, adopted first."""
    versions = ws.log()
    return render(
        request,
        "plans.html",
        title="Plans",
        nav="/plans",
        versions=versions,
        strategies=ws.strategies(include_retired=True),
    )


@router.get("/strategies", response_class=HTMLResponse)
def strategies_page(
    request: Request, retired: str = "", restored: str = "", ws: Workspace = Depends(workspace_for)
) -> Response:
    """Every strategy, in use first and retired after, each with its retire or restore form."""
    principal = current_principal(request)
    strategies = sorted(ws.strategies(include_retired=True), key=lambda s: bool(s.retired))
    controls = {
        s.name: control(principal, ws, "strategy", s.name, s.retired, "strategies")
        for s in strategies
    }
    return render(
        request,
        "strategies.html",
        title="Strategies",
        nav="/plans",
        strategies=strategies,
        controls=controls,
        flash=outcome_words(
            "strategy",
            retired,
            restored,
            {s.name for s in strategies},
            {s.name for s in strategies if s.retired},
        ),
    )


@router.post("/strategies/{name}/retire", dependencies=[Depends(csrf_protect)])
def retire_strategy(
    request: Request,
    name: str,
    reason: str = Form(""),
    back: str = Form(""),
    ws: Workspace = Depends(workspace_for),
) -> Response:
    """Retire strategy `name` (the API's rule: write access in every lens whose plan maps it);
    the plans that map it keep it."""
    require_retire(current_principal(request), ws, "strategy", name)
    ws.strategy_retire(name, reason.strip() or None)
    return see_other(landing("strategy", name, back, "retired"))


@router.post("/strategies/{name}/restore", dependencies=[Depends(csrf_protect)])
def restore_strategy(
    request: Request, name: str, back: str = Form(""), ws: Workspace = Depends(workspace_for)
) -> Response:
    require_retire(current_principal(request), ws, "strategy", name)
    ws.strategy_restore(name)
    return see_other(landing("strategy", name, back, "restored"))


def _board(
    request: Request, ws: Workspace, ref: str, status_code: int = 200, **extra
) -> HTMLResponse:
    info = ws.show(ref)
    plan = ws.plan_show(info.version)
    history = [c for c in ws.plan_history(info.lens) if c.version == info.version]
    mapped = {e["strategy"]: e for e in plan.entries}
    return render(
        request,
        "plan.html",
        status_code=status_code,
        title=f"Plan of {info.version}",
        nav="/plans",
        info=info,
        plan=plan,
        history=list(reversed(history)),
        strategies=ws.strategies(),
        mapped=mapped,
        statuses=STATUSES,
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/plans/{ref}", response_class=HTMLResponse)
def plan_board(request: Request, ref: str, ws: Workspace = Depends(workspace_for)) -> Response:
    return _board(request, ws, ref)


@router.post("/plans/{ref}/strategies", dependencies=[Depends(csrf_protect)])
async def add_strategy(request: Request, ref: str, ws: Workspace = Depends(workspace_for)):
    from segtrail.services.access import require_write

    require_write(current_principal(request), None)  # strategies belong to no lens
    form = await request.form()
    values = {
        k: str(form.get(k, "")).strip() for k in ("name", "message", "channels", "offer", "owner")
    }
    channels = [c.strip() for c in values["channels"].split(",") if c.strip()]
    try:
        ws.strategy_add(
            values["name"],
            values["message"],
            channels,
            offer=values["offer"] or None,
            owner=values["owner"] or None,
        )
    except SegtrailError as error:
        if error.http_status not in (409, 422):
            raise
        return _board(
            request,
            ws,
            ref,
            status_code=error.http_status,
            form=values,
            strategy_error=page_words(str(error)),
        )
    return see_other(plan_url(ref) + "#map")


@router.post("/plans/{ref}/map", dependencies=[Depends(csrf_protect)])
async def map_strategy(request: Request, ref: str, ws: Workspace = Depends(workspace_for)):
    from segtrail.services.access import require_write

    require_write(current_principal(request), ref.split("@")[0])
    form = await request.form()
    strategy = str(form.get("strategy", ""))
    target = str(form.get("target", "some"))
    status = str(form.get("status", "active"))
    rationale = str(form.get("rationale", "")).strip()
    chosen = [str(s) for s in form.getlist("segments")]
    values = {
        "strategy": strategy,
        "target": target,
        "status": status,
        "rationale": rationale,
        "segments": chosen,
    }
    try:
        if not strategy:
            raise InvalidInput("choose a strategy to map", field="strategy")
        if status not in STATUSES:
            raise InvalidInput(f"unknown status '{status}'", field="status")
        if not rationale:
            raise InvalidInput(
                "say why this strategy fits these segments (the rationale)", field="rationale"
            )
        if target == "all":
            segments: list[int] | str = "all"
        else:
            if not chosen:
                raise InvalidInput(
                    "tick the segments this strategy targets, or choose all customers",
                    field="segments",
                )
            segments = [int(s) for s in chosen if s.lstrip("-").isdigit()]
        ws.plan_map(strategy, ref, segments, status=status, rationale=rationale)
    except SegtrailError as error:
        if error.http_status not in (404, 409, 422):
            raise
        return _board(
            request,
            ws,
            ref,
            status_code=error.http_status,
            map_form=values,
            map_error=page_words(str(error)),
        )
    return see_other(plan_url(ref))


@router.post("/plans/{ref}/unmap", dependencies=[Depends(csrf_protect)])
async def unmap_strategy(request: Request, ref: str, ws: Workspace = Depends(workspace_for)):
    from segtrail.services.access import require_write

    require_write(current_principal(request), ref.split("@")[0])
    form = await request.form()
    ws.plan_unmap(str(form.get("strategy", "")), ref)
    return see_other(plan_url(ref))


@router.post("/plans/{ref}/revert", dependencies=[Depends(csrf_protect)])
async def revert_plan(request: Request, ref: str, ws: Workspace = Depends(workspace_for)):
    from segtrail.services.access import require_write

    require_write(current_principal(request), ref.split("@")[0])
    form = await request.form()
    revision = str(form.get("revision", ""))
    if not revision.isdigit():
        raise InvalidInput("choose a revision to go back to", field="revision")
    ws.plan_revert(ref, int(revision))
    return see_other(plan_url(ref))
