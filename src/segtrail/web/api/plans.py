"""Strategies (add, edit, list, why) and plans (show, history, map, unmap, revert)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from segtrail.services.results import (
    PlanChange,
    PlanState,
    PlanView,
    Retirement,
    Strategy,
    Thread,
)
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import (
    answer,
    lens_of,
    lenses_mapping_strategy,
    require_write,
    require_write_in,
    writer,
)
from segtrail.web.api.models import ERROR_RESPONSES, RetireBody, model_of
from segtrail.web.deps import workspace_for

router = APIRouter(tags=["strategies and plans"], responses=ERROR_RESPONSES)


class StrategyNew(BaseModel):
    name: str = Field(description="Short name, e.g. spring-promo")
    message: str
    channels: list[str] = Field(min_length=1)
    offer: str | None = None
    owner: str | None = None


class StrategyEdit(BaseModel):
    message: str | None = None
    channels: list[str] | None = None
    offer: str | None = None
    owner: str | None = None


@router.get("/strategies", response_model=list[model_of(Strategy)])
def list_strategies(ws: Workspace = Depends(workspace_for)) -> Any:
    """Every strategy, as currently defined (`segtrail strategy list --json`)."""
    return answer(ws.strategies())


@router.post("/strategies", response_model=model_of(Strategy), status_code=201)
def add_strategy(
    body: StrategyNew, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Record a strategy (`segtrail strategy add`)."""
    require_write(principal, None)
    result = ws.strategy_add(
        body.name, body.message, body.channels, offer=body.offer, owner=body.owner
    )
    return answer(result, status_code=201)


@router.patch("/strategies/{name}", response_model=model_of(Strategy))
def edit_strategy(
    name: str,
    body: StrategyEdit,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Change a strategy: a new revision of it; what is not given stays
    (`segtrail strategy edit`)."""
    require_write(principal, None)
    return answer(
        ws.strategy_edit(
            name,
            message=body.message,
            channels=body.channels or None,
            offer=body.offer,
            owner=body.owner,
        )
    )


@router.post("/strategies/{name}/retire", response_model=model_of(Retirement))
def retire_strategy(
    name: str,
    body: RetireBody | None = None,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Hide a strategy from the lists and refuse new mappings of it; the plans that map it
    keep it (`segtrail strategy retire --json`). Needs write access to every lens whose
    plan maps it."""
    require_write_in(principal, lenses_mapping_strategy(ws, name))
    return answer(ws.strategy_retire(name, body.reason if body else None))


@router.post("/strategies/{name}/restore", response_model=model_of(Retirement))
def restore_strategy(
    name: str, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Bring a retired strategy back (`segtrail strategy restore --json`); the same access
    as retiring it."""
    require_write_in(principal, lenses_mapping_strategy(ws, name))
    return answer(ws.strategy_restore(name))


@router.get("/strategies/{name}/why", response_model=model_of(Thread))
def why(name: str, ws: Workspace = Depends(workspace_for)) -> Any:
    """The thread from a strategy back to every hypothesis it was mapped on
    (`segtrail why --json`)."""
    return answer(ws.why(name))


@router.get("/versions/{ref}/plan", response_model=model_of(PlanView))
def show_plan(
    ref: str,
    revision: Annotated[int | None, Query(ge=1)] = None,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """The plan of a version (at `revision`, default the newest): strategies x segments,
    with coverage (`segtrail plan show --json`)."""
    return answer(ws.plan_show(ref, revision))


@router.get("/lenses/{lens}/plan-history", response_model=list[model_of(PlanChange)])
def plan_history(lens: str, ws: Workspace = Depends(workspace_for)) -> Any:
    """Every plan change on every version of a lens, oldest first
    (`segtrail plan history --json`)."""
    return answer(ws.plan_history(lens))


class PlanMap(BaseModel):
    strategy: str
    segments: list[int] | Literal["all"] = Field(
        description='Segment labels, or "all" for every customer'
    )
    status: str = Field("active", description="active, paused or not-viable")
    rationale: str | None = Field(None, description="Why this strategy fits")
    expected_revision: int | None = Field(
        None,
        ge=0,
        description="The plan revision this change was made on (0: no plan yet); when the "
        "plan has moved on since, nothing is recorded and the answer is 409",
    )


class PlanUnmap(BaseModel):
    strategy: str
    expected_revision: int | None = Field(None, ge=0)


class PlanRevert(BaseModel):
    to_revision: int = Field(ge=1, description="The revision whose entries to restore")
    expected_revision: int | None = Field(None, ge=0)


@router.post("/versions/{ref}/plan/map", response_model=model_of(PlanState))
def plan_map(
    ref: str,
    body: PlanMap,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Target segments of the version with a strategy, as the plan's next revision
    (`segtrail plan map`)."""
    require_write(principal, lens_of(ref))
    return answer(
        ws.plan_map(
            body.strategy,
            ref,
            body.segments,
            status=body.status,
            rationale=body.rationale,
            expected_revision=body.expected_revision,
        )
    )


@router.post("/versions/{ref}/plan/unmap", response_model=model_of(PlanState))
def plan_unmap(
    ref: str,
    body: PlanUnmap,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Remove a strategy from the version's plan (`segtrail plan unmap`)."""
    require_write(principal, lens_of(ref))
    return answer(ws.plan_unmap(body.strategy, ref, body.expected_revision))


@router.post("/versions/{ref}/plan/revert", response_model=model_of(PlanState))
def plan_revert(
    ref: str,
    body: PlanRevert,
    principal: Any = Depends(writer),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Make the plan what it was at an earlier revision, as a new revision
    (`segtrail plan revert`)."""
    require_write(principal, lens_of(ref))
    return answer(ws.plan_revert(ref, body.to_revision, body.expected_revision))
