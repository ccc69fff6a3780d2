"""Fixtures of the browser tests: a real `segtrail serve` subprocess on a free loopback port
over a temporary workspace made with the CLI, and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches `/usr/bin/chromium` through
`executable_path`. Without Chromium (or without Playwright) every browser test is skipped with
one reason; CI installs Chromium (`make browser`), so there they run.

Helpers for the tests:
- `server` (session): `.url`, `.workspace`, `.cli(*args)` runs the CLI on the same workspace,
  `.users` {name: password} (`ana` admin, `viv` viewer, `max` analyst of lens marketing).
- `page` (function): a 1280 px page; `phone` the same at 390 px.
- `sign_in(page, server, name)`, `snap(page, name)` (screenshot to tests/artifacts/<name>.png),
  `assert_fits(page)` (no horizontal overflow).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SEGTRAIL_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Flags that keep Chromium off the (closed) network and working as root in a container.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

try:  # Playwright is in the dev extra; the skip below names what is missing.
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - only without the dev extra
    sync_playwright = None

# The console script installed beside this Python (a real `segtrail` process, as people run it).
SEGTRAIL = [str(Path(sys.executable).parent / "segtrail")]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test here `browser` (`-m "not browser"` leaves them out), and skip them
    (only them) when Chromium or Playwright is absent, saying which."""
    reason = None
    if sync_playwright is None:
        reason = "Playwright for Python is not installed (pip install -e '.[dev]')"
    elif not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (make browser installs Debian's chromium)"
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    workspace: Path
    env: dict
    process: subprocess.Popen
    log: Path
    users: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, stdin: str | None = None, check: bool = True):
        """Run `segtrail ARGS` on the server's workspace (as a separate process)."""
        done = subprocess.run(
            [*SEGTRAIL, "--workspace", str(self.workspace), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"segtrail {' '.join(args)} failed: {done.stderr}")
        return done


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"segtrail serve exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    tail = log.read_text()[-2000:]
    raise RuntimeError(f"segtrail serve did not answer within {timeout}s: {tail}")


def _require_browser() -> None:
    if sync_playwright is None or not CHROMIUM.exists():
        pytest.skip("browser tests need Playwright and Chromium")


@pytest.fixture(scope="session")
def story_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a person would bring, from the demo's sample generator: customers.csv, the
    same customers a quarter later (customers_later.csv) and a campaign's sends.csv (80/20
    treatment/control; the app push works on customers under 35)."""
    import numpy as np

    from segtrail.engine.sample import generate_customers

    _require_browser()
    data = tmp_path_factory.mktemp("story-data")
    frame, _truth = generate_customers(1500, seed=7)
    frame.to_csv(data / "customers.csv", index=False)
    rng = np.random.default_rng(5)
    later = frame.copy()
    later["days_since_last_order"] += 90 * (rng.random(len(later)) < 0.3)
    later["tenure_months"] += 3
    later.to_csv(data / "customers_later.csv", index=False)
    treated = rng.random(len(frame)) < 0.8
    rate = np.where((frame["age"] < 35) & treated, 0.3, 0.08)
    sends = frame[["customer_id"]].assign(
        group=np.where(treated, "treatment", "control"),
        responded=(rng.random(len(frame)) < rate).astype(int),
    )
    sends.to_csv(data / "sends.csv", index=False)
    return data


USERS = (("ana", "admin", ()), ("viv", "viewer", ()), ("max", "analyst", ("marketing",)))


def start_server(root: Path, users: tuple = USERS) -> LiveServer:
    """`segtrail init` a workspace under `root`, `segtrail serve` it on a free loopback port,
    and add `users` (name, role, lenses) with passwords through `segtrail user add`."""
    workspace = root / "shop"
    env = {**os.environ, "SEGTRAIL_AUTHOR": "setup", "PYTHONUNBUFFERED": "1"}
    subprocess.run([*SEGTRAIL, "init", str(workspace)], check=True, env=env, capture_output=True)
    port = free_port()
    log = root / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *SEGTRAIL,
                "--workspace",
                str(workspace),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    live = LiveServer(f"http://127.0.0.1:{port}", workspace, env, process, log)
    try:
        _wait_until_up(live.url, process, log)
        for name, role, lenses in users:
            password = f"{name}-secret-password"
            grants = [arg for lens in lenses for arg in ("--lens", lens)]
            live.cli(
                "user", "add", name, "--role", role, *grants, "--password-stdin",
                stdin=password + "\n",
            )  # fmt: skip
            live.users[name] = password
    except BaseException:
        stop_server(live)
        raise
    return live


def stop_server(live: LiveServer) -> None:
    live.process.terminate()
    try:
        live.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        live.process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`segtrail serve` on a workspace shared by the browser tests, with three users (ana
    admin, viv viewer, max analyst of marketing)."""
    _require_browser()
    live = start_server(tmp_path_factory.mktemp("served"))
    yield live
    stop_server(live)


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


def _page(browser: Browser, viewport: dict) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(30_000)
    page = context.new_page()
    # A page that fails to load a script or throws shows it in the test's failure.
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, DESKTOP)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, PHONE)


def sign_in(page: Page, server: LiveServer, name: str = "ana") -> None:
    """Sign in through the sign-in form, as a person would."""
    page.goto(server.url + "/sign-in")
    page.get_by_label("Your user name").fill(name)
    page.get_by_label("Password").fill(server.users[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def assert_fits(page: Page) -> None:
    """No horizontal overflow: the page is never wider than the window."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width > inner:  # name the widest elements that stick out, to find the culprit
        culprits = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                .slice(0, 5)
                .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                     + (e.className && typeof e.className === 'string' ? '.' + e.className : '')
                     + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')"""
        )
        raise AssertionError(
            f"{page.url} overflows: {width}px wide in a {inner}px window; {culprits}"
        )


def assert_labelled(page: Page) -> None:
    """Every visible form field has a label (its own <label>, or aria-label)."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
            .filter(e => (!e.labels || e.labels.length === 0) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML.slice(0, 120))"""
    )
    assert not unlabelled, f"{page.url}: fields without a label: {unlabelled}"


def snap(page: Page, name: str, *, full_page: bool = True) -> Path:
    """A screenshot under tests/artifacts/ (gitignored), for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
