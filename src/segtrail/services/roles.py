"""The roles of the team server's users, kept apart from `services.access` so the CLI can
offer them as choices without importing the store (and SQLAlchemy) at start-up."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"
