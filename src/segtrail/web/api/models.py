"""Response models for the OpenAPI schema, derived from the typed results.

The services' frozen dataclasses (services/results.py) are the one declaration of what an
action answers; writing each shape again as a pydantic model would drift. `model_of(Result)`
builds the pydantic model from the dataclass's fields: nested results become nested models,
a field a result prints only when set (`omit_if_none`) is optional, the engine's documents
flattened into the top level (`details`) are allowed as extra keys, and every float may be
null (NaN and infinities are printed as null, as `--json` does).
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import MISSING, fields
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from segtrail.services.results import Result


class ErrorDetail(BaseModel):
    kind: str = Field(description="invalid_input, not_found, conflict, unauthenticated, ...")
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No or unknown token"},
    403: {"model": ErrorResponse, "description": "The role or lens grant does not allow it"},
    404: {"model": ErrorResponse, "description": "Not found"},
    409: {"model": ErrorResponse, "description": "Changed by someone else first"},
    422: {"model": ErrorResponse, "description": "Bad input (the CLI's message)"},
}


class Health(BaseModel):
    status: str
    version: str
    schema_version: int


class JobAccepted(BaseModel):
    job: str = Field(description="The job's id: follow it at /api/v1/jobs/{id}")
    kind: str
    state: str
    url: str


class JobState(BaseModel):
    id: str
    kind: str
    author: str | None
    state: str = Field(description="queued | running | done | failed")
    message: str
    fraction: float | None
    result: dict[str, Any] | list[Any] | None
    error: ErrorDetail | None
    links: dict[str, str] = Field(description="Download URLs of files the job wrote")


def _nullable_floats(tp: Any) -> Any:
    """float -> float | None, inside containers too."""
    if tp is float:
        return float | None
    origin = typing.get_origin(tp)
    if origin is None:
        return tp
    args = tuple(_nullable_floats(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return functools.reduce(lambda a, b: a | b, args)
    return origin[args] if args else tp


def _field_type(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, Result):
        return model_of(tp)
    origin = typing.get_origin(tp)
    if origin in (list, tuple) and typing.get_args(tp):
        inner = typing.get_args(tp)[0]
        if isinstance(inner, type) and issubclass(inner, Result):
            return list[model_of(inner)]
    if tp is dict:
        return dict[str, Any]
    if tp is list:
        return list[Any]
    return _nullable_floats(tp)


@functools.cache
def model_of(result: type[Result], exclude: frozenset[str] = frozenset()) -> type[BaseModel]:
    """The pydantic model of what `result.to_dict()` prints (less the `exclude`d keys)."""
    hints = typing.get_type_hints(result)
    definitions: dict[str, Any] = {}
    flattened = False
    for f in fields(result):  # type: ignore[arg-type]
        if f.name in exclude:
            continue
        if f.metadata.get("flatten"):
            flattened = True
            continue
        tp = _field_type(hints[f.name])
        if (
            f.metadata.get("omit_if_none")
            or f.default is not MISSING
            or f.default_factory is not MISSING
        ):
            definitions[f.name] = (tp | None, None)
        else:
            definitions[f.name] = (tp, ...)
    name = result.__name__ + ("Shown" if exclude else "")
    config = ConfigDict(extra="allow" if flattened else "ignore")
    return create_model(name, __config__=config, __doc__=result.__doc__, **definitions)


class RetireBody(BaseModel):
    """Retiring a dataset or a strategy."""

    reason: str | None = Field(None, description="Why, for the history")
