"""Fixtures of the API tests: a small real workspace with two lenses, users of each role with
their tokens, the app in-process (FastAPI's TestClient) and the real `segtrail serve` in a
subprocess on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.conftest import ISOLATED_VARS

from segtrail.services import access
from segtrail.services.access import Role
from segtrail.services.workspace import Workspace
from segtrail.web import create_app

SEGTRAIL = Path(sys.executable).parent / "segtrail"


def customers_csv(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """Customers in three clear groups (age, spend, visits) and a channel."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, rows)
    age = np.array([25, 45, 65])[group] + rng.normal(0, 3, rows)
    spend = np.array([50, 400, 150])[group] + rng.normal(0, 10, rows)
    visits = np.array([20, 5, 2])[group] + rng.normal(0, 1, rows)
    channel = np.array(["app", "email", "store"])[group]
    lines = ["customer_id,age,spend,visits,channel"]
    lines += [
        f"C{i:05d},{age[i]:.1f},{spend[i]:.2f},{visits[i]:.1f},{channel[i]}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Served:
    """A workspace to serve (customers@1; marketing@1 with a plan, marketing@2, product@1;
    strategies welcome and app-push), and a token per user: admin, ana (analyst, marketing
    only), vic (viewer)."""

    root: Path
    tokens: dict[str, str]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def make_workspace(root: Path) -> Served:
    with Workspace.init(root, author="setup") as ws:
        ws.ingest(customers_csv(root / "customers.csv"), "customer_id", "customers")
        for lens, k in (("marketing", 3), ("product", 2)):
            ws.segment(
                "customers",
                lens,
                f"{lens}: behaviour separates the groups",
                exclude=["channel"],
                algorithm="kmeans",
                k=k,
            )
        ws.strategy_add("welcome", "Welcome back", ["email"])
        ws.strategy_add("app-push", "Try the app", ["push"])
        ws.plan_map("welcome", "marketing@1", [0], rationale="the young come back by e-mail")
        # a revised hypothesis on the same lens, for diff and carry forward
        ws.segment(
            "customers",
            "marketing",
            "marketing: four groups, not three",
            exclude=["channel"],
            algorithm="kmeans",
            k=4,
        )
        tokens = {
            "admin": access.add_user(ws, "admin", Role.ADMIN).token,
            "ana": access.add_user(ws, "ana", Role.ANALYST, lenses=["marketing"]).token,
            "vic": access.add_user(ws, "vic", Role.VIEWER).token,
        }
    return Served(root, tokens)


@pytest.fixture(scope="session")
def served_template(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return make_workspace(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def served(served_template: Served, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """A copy of the template per test module (a SQLite workspace is one folder): each
    module starts from the same state, and building it once saves the segmentations."""
    root = tmp_path_factory.mktemp("served") / "ws"
    shutil.copytree(served_template.root, root)
    return Served(root, dict(served_template.tokens))


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[TestClient]:
    with TestClient(create_app(served.root)) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`segtrail serve` in a subprocess on a free loopback port, as a team would run it."""

    def __init__(self, root: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARS}
        self.process = subprocess.Popen(
            [str(SEGTRAIL), "serve", "--port", str(self.port), "--workspace", str(root), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"segtrail serve exited: {self.process.stderr.read()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("segtrail serve did not answer within 60 s")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> str:
        """Stop the server; returns what it wrote on stderr."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.stderr.read() if self.process.stderr else ""


@pytest.fixture(scope="module")
def live(served: Served) -> Iterator[LiveServer]:
    server = LiveServer(served.root)
    yield server
    server.stop()


def wait_for_job(
    http: httpx.Client | TestClient,
    job_id: str,
    timeout: float = 120,
    headers: dict[str, str] | None = None,
) -> dict:
    """Poll a job until it is done or failed; returns its last state (with every progress
    message seen under "seen")."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = http.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if not seen or seen[-1] != state["message"]:
            seen.append(state["message"])
        if state["state"] in ("done", "failed"):
            return {**state, "seen": seen}
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {seen[-1:]} after {timeout} s")
