"""The thread: diff two versions, carry a plan forward (preview or apply), compare lenses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from segtrail.errors import InvalidInput
from segtrail.services.results import Carry, Comparison, Diff
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import answer, lens_of, require_write, writer
from segtrail.web.api.models import ERROR_RESPONSES, model_of
from segtrail.web.deps import workspace_for

router = APIRouter(tags=["the thread"], responses=ERROR_RESPONSES)

MinJaccard = Annotated[
    float, Query(ge=0, le=1, description="Overlap that counts as the same segment")
]


@router.get("/diff", response_model=model_of(Diff))
def diff(
    a: Annotated[str, Query(description="Version A (LENS@N)")],
    b: Annotated[str, Query(description="Version B (LENS@N)")],
    min_jaccard: MinJaccard = 0.5,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """How customers moved from A to B: transitions, ARI/NMI, each segment's fate
    (`segtrail diff --json`)."""
    return answer(ws.diff(a, b, min_jaccard))


@router.get("/carry", response_model=model_of(Carry))
def carry_preview(
    old: Annotated[str, Query(description="LENS@OLD whose plan to carry")],
    new: Annotated[str, Query(description="LENS@NEW to carry it onto")],
    min_jaccard: MinJaccard = 0.5,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """What carrying the plan of OLD onto NEW would do; records nothing
    (`segtrail carry --json`)."""
    return answer(ws.carry(old, new, min_jaccard, apply=False))


class CarryApply(BaseModel):
    old: str = Field(description="LENS@OLD whose plan to carry")
    new: str = Field(description="LENS@NEW to carry it onto")
    min_jaccard: float = Field(0.5, ge=0, le=1)


@router.post("/carry", response_model=model_of(Carry))
def carry_apply(
    body: CarryApply, principal: Any = Depends(writer), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Record the carried plan as the next plan revision of NEW
    (`segtrail carry --apply --json`)."""
    require_write(principal, lens_of(body.new))
    return answer(ws.carry(body.old, body.new, body.min_jaccard, apply=True))


def parse_flags(flags: list[str] | None) -> dict[str, str]:
    """`fit=poor` pairs, as the CLI's --flag."""
    out: dict[str, str] = {}
    for pair in flags or []:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise InvalidInput(f"invalid flag {pair!r}: expected KEY=VALUE", field="flag")
        out[key.strip()] = value.strip()
    return out


@router.get("/compare", response_model=model_of(Comparison))
def compare(
    a: Annotated[str, Query(description="Version or lens A")],
    b: Annotated[str, Query(description="Version or lens B")],
    flag: Annotated[
        list[str] | None, Query(description="Highlight B segments tagged KEY=VALUE")
    ] = None,
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Two lenses' views of the same customers (`segtrail compare --json`)."""
    return answer(ws.compare(a, b, parse_flags(flag)))
