"""Stripe in tests: localstripe as a separate process, a storefront that pays through it, and a
real HTTP receiver for the events it posts.

- ``localstripe_server`` (session): localstripe (a stateful Stripe stand-in on PyPI) on
  127.0.0.1 and a free port, started once, stopped at the end. ``localstripe`` (each test)
  is the same server emptied first. Through it: ``url``, ``secret_key``,
  ``register_webhook(endpoint_id, url, secret, events=None)``, ``provider()`` (a
  :class:`StripeProvider` pointed at it) and ``storefront`` (pays a PaymentIntent with a card
  number, as Stripe.js would in a customer's browser).
- ``stripe_events`` (each test): an HTTP server on 127.0.0.1 registered in localstripe for
  every event, signed with ``WEBHOOK_SECRET``; ``await stripe_events.wait_for(type, pi_id)``
  gives the delivery, its body and ``Stripe-Signature`` header exactly as posted.

localstripe answers Stripe's API with the official SDK as its client; it ignores
``Idempotency-Key``, posts its events about a second after the change, and sends none for
refunds (a refund's answer is final). It is started here through its aiohttp application,
listening on 127.0.0.1 only (its command line listens on every interface, over IPv6), and
without its habit of pickling the whole store to /tmp/localstripe.pickle after every change
(shared by every localstripe on the machine, and slower with every object): the equivalent
of ``localstripe --port P --from-scratch``, kept to this machine.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from orderly_payments.stripe import StripeProvider

SECRET_KEY = "sk_test_orderlylocalstripe"
WEBHOOK_SECRET = "whsec_orderlytestsigningsecret"
CARD_SUCCEEDS = "4242424242424242"
# Stripe's test card whose charge is declined. (Real Stripe also declines 4000 0000 0000 0002
# when a PaymentIntent is confirmed; localstripe declines that one only when it is attached to a
# customer, and lets it pay a PaymentIntent.)
CARD_DECLINED = "4000000000000341"
RECEIVER_ENDPOINT = "orderly-tests-receiver"

_RUN_LOCALSTRIPE = """
import sys
from aiohttp import web
from localstripe.resources import Store
from localstripe.server import app
Store.dump_to_disk = lambda self: None
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Storefront:
    """What a customer's browser does with a PaymentIntent's client secret, through the SDK:
    create a card PaymentMethod, attach it to the PaymentIntent, confirm it."""

    def __init__(self, api_base: str, secret_key: str) -> None:
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            http_client=stripe.RequestsClient(timeout=10),
            max_network_retries=0,
        )

    def _pay(self, intent_id: str, card_number: str) -> str:
        method = self._client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": card_number, "exp_month": 12, "exp_year": 2099, "cvc": "123"},
            }
        )
        self._client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
        try:
            intent = self._client.v1.payment_intents.confirm(intent_id)
        except stripe.CardError:
            return "declined"
        return intent.status

    async def pay(self, intent_id: str, card_number: str = CARD_SUCCEEDS) -> str:
        """Pay ``intent_id`` with a card: the PaymentIntent's status after confirming it
        (``succeeded``), or ``declined`` when the card is."""
        return await asyncio.to_thread(self._pay, intent_id, card_number)

    def intent(self, intent_id: str) -> stripe.PaymentIntent:
        return self._client.v1.payment_intents.retrieve(intent_id)


@dataclass(frozen=True)
class LocalStripe:
    url: str
    secret_key: str = SECRET_KEY
    storefront: Storefront = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "storefront", Storefront(self.url, self.secret_key))

    def clear(self) -> None:
        """Forget every object (registered webhook endpoints stay)."""
        httpx.delete(f"{self.url}/_config/data", timeout=10).raise_for_status()

    def register_webhook(
        self, endpoint_id: str, url: str, secret: str, events: list[str] | None = None
    ) -> None:
        """Have localstripe post its events to ``url``, signed with ``secret`` (all events, or
        only ``events``); registering ``endpoint_id`` again replaces it."""
        form: dict[str, str] = {"url": url, "secret": secret}
        for index, event in enumerate(events or []):
            form[f"events[{index}]"] = event
        httpx.post(
            f"{self.url}/_config/webhooks/{endpoint_id}", data=form, timeout=10
        ).raise_for_status()

    def provider(self, webhook_secret: str = WEBHOOK_SECRET, **options: Any) -> StripeProvider:
        """The Stripe provider, pointed at this localstripe, not retrying."""
        options.setdefault("network_retries", 0)
        return StripeProvider(self.secret_key, webhook_secret, api_base=self.url, **options)


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"localstripe exited with {process.returncode}:\n{log.read_text()}")
        try:
            answer = httpx.get(
                f"{url}/v1/payment_intents",
                headers={"Authorization": f"Bearer {SECRET_KEY}"},
                timeout=1,
            )
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if answer.status_code == 200:
            return
    pytest.fail(f"localstripe did not answer within 20 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[LocalStripe]:
    """localstripe, started once for the session as a process of its own."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="orderly-localstripe-") as workdir:
        log = Path(workdir) / "localstripe.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-c", _RUN_LOCALSTRIPE, str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_answering(url, process, log)
            yield LocalStripe(url)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def localstripe(localstripe_server: LocalStripe) -> LocalStripe:
    """localstripe, emptied for this test."""
    localstripe_server.clear()
    return localstripe_server


@pytest.fixture
async def stripe_provider(localstripe: LocalStripe) -> AsyncIterator[StripeProvider]:
    provider = localstripe.provider()
    yield provider
    await provider.aclose()


# --- the receiver of localstripe's events ----------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One event as localstripe posted it."""

    payload: bytes
    signature: str | None

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.payload)
        return parsed

    @property
    def type(self) -> str:
        return str(self.body.get("type"))

    @property
    def intent_id(self) -> str | None:
        subject = self.body.get("data", {}).get("object", {})
        return subject.get("id") if subject.get("object") == "payment_intent" else None


class QuietServer(ThreadingHTTPServer):
    """An HTTP server that keeps quiet about clients that hang up before the answer."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class StripeEventReceiver:
    """A plain HTTP server on 127.0.0.1 keeping every body posted to it, with its
    ``Stripe-Signature`` header, and answering 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                with receiver._lock:
                    receiver._deliveries.append(
                        Delivery(payload, self.headers.get("Stripe-Signature"))
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stripe/events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def forget(self) -> None:
        with self._lock:
            self._deliveries.clear()

    async def wait_for(self, type_: str, intent_id: str, within_s: float = 15) -> Delivery:
        """The first delivery of event ``type_`` about PaymentIntent ``intent_id``."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for delivery in self.deliveries:
                if delivery.type == type_ and delivery.intent_id == intent_id:
                    return delivery
            await asyncio.sleep(0.05)
        seen = [(d.type, d.intent_id) for d in self.deliveries]
        pytest.fail(f"no {type_} for {intent_id} within {within_s} s; received {seen}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def stripe_event_receiver(localstripe_server: LocalStripe) -> Iterator[StripeEventReceiver]:
    receiver = StripeEventReceiver()
    localstripe_server.register_webhook(RECEIVER_ENDPOINT, receiver.url, WEBHOOK_SECRET)
    yield receiver
    receiver.close()


@pytest.fixture
def stripe_events(
    localstripe: LocalStripe, stripe_event_receiver: StripeEventReceiver
) -> StripeEventReceiver:
    """The receiver of localstripe's events, with what earlier tests received forgotten."""
    stripe_event_receiver.forget()
    return stripe_event_receiver
