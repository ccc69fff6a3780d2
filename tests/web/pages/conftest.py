"""What the page tests share: a served workspace whose analyst `ana` can sign in with a
password (module scope: each test module gets its own workspace and page caches)."""

from __future__ import annotations

import pytest
from tests.web.api.conftest import Served, make_workspace

from segtrail.services import access
from segtrail.services.workspace import Workspace

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("pages") / "ws"
    root.mkdir()
    served = make_workspace(root)
    with Workspace.open(root, author="setup") as ws:
        access.set_password(ws, "ana", PASSWORD)
    return served
