"""Does ``/docs`` render, offline, behind its policy, and does its "Authorize" sign in?

    uv run python scripts/check_docs_page.py                       # starts its own stack
    uv run python scripts/check_docs_page.py --screenshot docs.png
    uv run python scripts/check_docs_page.py --url http://127.0.0.1:8000 \\
        --email me@example.com --password '...'                    # a running API

Without ``--url`` it runs ``orderly dev --no-worker`` in a new temporary directory (embedded
PostgreSQL and Redis) and signs up a customer there. Then, in headless Chromium
(``apt-get install chromium``; ``--chromium`` or ``$CHROMIUM`` names another binary) driven
over the DevTools protocol, with every host name but the API's made unresolvable (no CDN could
answer):

1. ``/docs`` renders Swagger UI with the API's operations in the page;
2. "Authorize" signs in with the OAuth2 password flow (the form's username and password, as a
   person would type them) and the token Swagger UI then holds reads ``/api/v1/users/me``;
3. ``/redoc`` renders ReDoc with the same operations;
4. neither page asked for anything from another origin, and the browser reported no
   Content-Security-Policy violation and no script error.

Prints one line per check (``--json``: one JSON object) and exits 0 when all pass, 1 when one
fails, 2 when Chromium is missing. ``tests/e2e/test_docs_browser.py`` runs it.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "docs-check@example.com"
PASSWORD = "docs check password 1"  # noqa: S105 (a throwaway account of a throwaway stack)
DEADLINE_S = 30.0
EXIT_MISSING_BROWSER = 2


def chromium_binary(given: str | None = None) -> str | None:
    """The Chromium to drive: ``given``, ``$CHROMIUM``, or the first one on the PATH."""
    for name in (given, os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running API (default: start `orderly dev`)")
    parser.add_argument("--email", default=EMAIL)
    parser.add_argument("--password", default=PASSWORD)
    parser.add_argument("--chromium", help="the browser binary (default: chromium)")
    parser.add_argument("--screenshot", type=Path, help="save a PNG of /docs after sign-in")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()

    browser = chromium_binary(args.chromium)
    if browser is None:
        sys.stderr.write("chromium not found: apt-get install chromium, or give --chromium\n")
        return EXIT_MISSING_BROWSER
    with _api(args.url) as url:
        if args.url is None:
            _sign_up(url, args.email, args.password)
        report = check(browser, url, args.email, args.password, args.screenshot)
    if args.json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.text())
    return 0 if report.passed else 1


@dataclass
class Report:
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def note(self, name: str, passed: bool, detail: str) -> None:
        self.checks[name] = (passed, detail)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(passed for passed, _ in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": {name: {"passed": ok, "detail": d} for name, (ok, d) in self.checks.items()},
            "requests": self.requests,
            "problems": self.problems,
        }

    def text(self) -> str:
        lines = [f"{'ok ' if ok else 'FAIL'} {name}: {d}" for name, (ok, d) in self.checks.items()]
        lines += [f"     browser: {problem}" for problem in self.problems]
        return "\n".join(lines) + "\n"


def check(browser: str, url: str, email: str, password: str, screenshot: Path | None) -> Report:
    report = Report()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    with _chromium(browser, urlsplit(url).hostname or "127.0.0.1") as page:
        page.send("Network.enable")
        page.send("Runtime.enable")
        page.send("Log.enable")
        page.send("Page.enable")

        page.navigate(f"{url}/docs")
        operations = page.wait_for("document.querySelectorAll('.opblock').length", 1)
        report.note("/docs renders", operations > 0, f"{operations} operations in the page")

        signed_in = _authorize(page, email, password)
        report.note("/docs Authorize signs in", signed_in[0], signed_in[1])
        if screenshot is not None:
            shot = page.send("Page.captureScreenshot", format="png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))

        page.navigate(f"{url}/redoc")
        sections = page.wait_for(
            "document.querySelectorAll('[data-section-id^=\"operation/\"]').length", 1
        )
        report.note("/redoc renders", sections > 0, f"{sections} operations in the page")
        time.sleep(0.5)  # late requests and reports (fonts, workers) have a chance to show

        report.requests = sorted(set(page.requests))
        foreign = [r for r in report.requests if not r.startswith((origin, "data:", "blob:"))]
        report.note(
            "same-origin only",
            not foreign,
            f"{len(report.requests)} URLs asked for, none elsewhere"
            if not foreign
            else f"asked for {foreign}",
        )
        report.problems = page.problems
        report.note(
            "no policy violation or script error",
            not page.problems,
            "none reported" if not page.problems else f"{len(page.problems)} reported",
        )
    return report


_SET_INPUT = """(selector, value) => {
  const input = document.querySelector(selector);
  if (!input) return false;
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new Event('change', {bubbles: true}));
  return true;
}"""


def _authorize(page: Page, email: str, password: str) -> tuple[bool, str]:
    """Swagger UI's Authorize dialog, filled and sent as a person would; then the token it
    holds must read the signed-in user."""
    page.evaluate("document.querySelector('.auth-wrapper .authorize').click()")
    if not page.wait_for("document.querySelectorAll('#oauth_username').length", 1):
        return False, "the Authorize dialog did not show the password flow's form"
    page.call(_SET_INPUT, "#oauth_username", email)
    page.call(_SET_INPUT, "#oauth_password", password)
    page.evaluate("document.querySelector('.auth-btn-wrapper .modal-btn.authorize').click()")
    token = page.wait_for(
        "(() => { const a = window.ui.authSelectors.authorized().toJS();"
        " const s = Object.values(a)[0]; return s && s.token && s.token.access_token"
        " ? s.token.access_token : (document.querySelector('.auth-container .errors') ? 'ERROR'"
        " : ''); })()",
        "",
    )
    if token in ("", None, "ERROR"):
        errors = page.evaluate(
            "Array.from(document.querySelectorAll('.auth-container .errors')).map(e => e.innerText)"
            ".join(' ')"
        )
        return False, f"no token after Authorize ({errors or 'no error shown'})"
    me = page.evaluate(
        "fetch('/api/v1/users/me', {headers: {Authorization: 'Bearer ' + "
        + json.dumps(token)
        + "}}).then(r => r.ok ? r.json().then(b => b.email) : 'HTTP ' + r.status)",
        await_promise=True,
    )
    return me == email, f"signed in as {me} with the password flow"


class Page:
    """One browser tab over the DevTools protocol: commands, and the events kept."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.requests: list[str] = []
        self.problems: list[str] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=DEADLINE_S))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.problems.append(f"script error: {str(text).splitlines()[0]}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            if "favicon" not in entry.get("url", ""):
                self.problems.append(f"{entry['source']}: {entry['text']}")
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            texts = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
            self.problems.append(f"console error: {' '.join(texts)[:300]}")

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in result:
            return None
        return result["result"].get("value")

    def call(self, function: str, *args: Any) -> Any:
        return self.evaluate(f"({function})({', '.join(json.dumps(a) for a in args)})")

    def wait_for(self, expression: str, reached: Any) -> Any:
        """``expression``'s value once it is truthy and not ``reached``'s falsy twin, polled
        until :data:`DEADLINE_S`; the last value otherwise."""
        deadline = time.monotonic() + DEADLINE_S
        value = self.evaluate(expression)
        while not _arrived(value, reached) and time.monotonic() < deadline:
            time.sleep(0.1)
            self.send("Runtime.evaluate", expression="0")  # collects pending events
            value = self.evaluate(expression)
        return value


def _arrived(value: Any, reached: Any) -> bool:
    if isinstance(reached, int) and not isinstance(reached, bool):
        return isinstance(value, int) and value >= reached
    return bool(value)


@contextmanager
def _chromium(binary: str, api_host: str) -> Iterator[Page]:
    profile = Path(tempfile.mkdtemp(prefix="orderly-docs-check-"))
    argv = [
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,900",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        # Offline but for the API: any other host name fails to resolve, as without internet.
        f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {api_host}",
        "about:blank",
    ]
    process = subprocess.Popen(  # noqa: S603 (the browser the caller chose)
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        port = _wait(lambda: _devtools_port(profile), "Chromium's DevTools port")
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", trust_env=False).json()
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)
    finally:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path) -> int | None:
    try:
        first = (profile / "DevToolsActivePort").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


@contextmanager
def _api(url: str | None) -> Iterator[str]:
    """``url``, or the API of an ``orderly dev --no-worker`` started in a new directory."""
    if url is not None:
        yield url.rstrip("/")
        return
    project = Path(tempfile.mkdtemp(prefix="orderly-docs-stack-"))
    port = _free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "VIRTUAL_ENV"}
    }
    log = project.parent / f"{project.name}.log"
    with log.open("wb") as out:
        stack = subprocess.Popen(  # noqa: S603 (this workspace's own command)
            [sys.executable, "-m", "orderly_cli.launcher", "dev", "--no-worker", f"--port={port}"],
            cwd=project,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _healthy(api) or stack.poll() is not None, "the API's /health")
        if stack.poll() is not None:
            raise SystemExit(f"orderly dev stopped:\n{log.read_text(errors='replace')}")
        yield api
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        log.unlink(missing_ok=True)
        shutil.rmtree(project, ignore_errors=True)


def _sign_up(url: str, email: str, password: str) -> None:
    account = {"email": email, "password": password, "display_name": "Docs check"}
    answer = httpx.post(f"{url}/api/v1/users", json=account, timeout=30, trust_env=False)
    if answer.status_code not in (201, 409):
        raise SystemExit(f"signing up failed: {answer.status_code} {answer.text}")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _wait[T](probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + DEADLINE_S
    while (value := probe()) is None or value is False:
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.05)
    return value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


if __name__ == "__main__":
    sys.exit(main())
