"""Users and tokens (admins only): the CLI's `segtrail user ...` and `segtrail token ...`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from segtrail.services import access
from segtrail.services.access import Role, TokenRevoked, UserDisabled, UserInfo
from segtrail.services.workspace import Workspace
from segtrail.web.api.common import answer, require_admin, writer
from segtrail.web.api.models import ERROR_RESPONSES, model_of
from segtrail.web.deps import current_principal, workspace_for

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)


class UserNew(BaseModel):
    name: str
    role: Role
    lenses: list[str] = Field(default_factory=list, description="Lenses an analyst writes in")
    password: str | None = Field(None, description="For browser sign-in (8 characters or more)")


class NewCredential(BaseModel):
    """A user or token just made: the token is shown this once (only its hash is kept)."""

    user: str
    token: str
    token_id: str
    role: str | None = None
    lenses: list[str] | None = None


class Lenses(BaseModel):
    lenses: list[str] = Field(min_length=1)


class RoleChange(BaseModel):
    role: Role


def _admin(principal: Any = Depends(writer)) -> Any:
    require_admin(principal)
    return principal


@router.get("/users", response_model=list[model_of(UserInfo)])
def list_users(
    principal: Any = Depends(current_principal), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Every user with role, grants and tokens (`segtrail user list --json`; admins)."""
    require_admin(principal)
    return answer(access.list_users(ws))


@router.post("/users", status_code=201, response_model=NewCredential)
def add_user(
    body: UserNew, principal: Any = Depends(_admin), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Create a user and their first API token (`segtrail user add --json`)."""
    created = access.add_user(ws, body.name, body.role, body.lenses, password=body.password)
    return answer(created, status_code=201)


@router.post("/users/{name}/disable", response_model=model_of(UserDisabled))
def disable_user(
    name: str, principal: Any = Depends(_admin), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Disable a user: their tokens and sessions stop working (`segtrail user disable`)."""
    return answer(access.disable_user(ws, name))


@router.post("/users/{name}/role", response_model=model_of(UserInfo))
def set_role(
    name: str,
    body: RoleChange,
    principal: Any = Depends(_admin),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Change a user's role (`segtrail user role`)."""
    return answer(access.set_role(ws, name, body.role))


@router.post("/users/{name}/grants", response_model=model_of(UserInfo))
def grant(
    name: str,
    body: Lenses,
    principal: Any = Depends(_admin),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Let a user write in more lenses (`segtrail user grant`)."""
    return answer(access.grant_lenses(ws, name, body.lenses))


@router.post("/users/{name}/ungrant", response_model=model_of(UserInfo))
def ungrant(
    name: str,
    body: Lenses,
    principal: Any = Depends(_admin),
    ws: Workspace = Depends(workspace_for),
) -> Any:
    """Withdraw lens grants (`segtrail user ungrant`)."""
    return answer(access.withdraw_lenses(ws, name, body.lenses))


@router.post("/users/{name}/tokens", status_code=201, response_model=NewCredential)
def create_token(
    name: str, principal: Any = Depends(_admin), ws: Workspace = Depends(workspace_for)
) -> Any:
    """A new API token for a user, shown once (`segtrail token create --json`)."""
    return answer(access.create_token(ws, name), status_code=201)


@router.post("/tokens/{token_id}/revoke", response_model=model_of(TokenRevoked))
def revoke_token(
    token_id: str, principal: Any = Depends(_admin), ws: Workspace = Depends(workspace_for)
) -> Any:
    """Revoke a token (`segtrail token revoke`)."""
    return answer(access.revoke_token(ws, token_id))


class PasswordBody(BaseModel):
    password: str


@router.post("/users/{name}/password", status_code=204, response_model=None)
def set_password(
    name: str,
    body: PasswordBody,
    principal: Any = Depends(_admin),
    ws: Workspace = Depends(workspace_for),
) -> None:
    """Set a user's password for browser sign-in (`segtrail user password`)."""
    access.set_password(ws, name, body.password)
