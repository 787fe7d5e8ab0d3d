"""A tiny storefront: one customer's whole visit to an Orderly shop, over its HTTP API.

    uv run orderly dev                          # in one terminal: the stack
    uv run orderly products import examples/products.csv
    uv run python examples/storefront.py        # in another: the visit

It signs a new customer up and in, lists the products, places an order for the first one in
stock (with an Idempotency-Key, as every client should), has it paid with the manual payment
provider, and follows the order until it is paid. Only Python's standard library is used, so
it reads as a recipe for any language.

Paying by hand is a staff member's step (a bank transfer arrived): the script does it with
`orderly orders pay`, the operator's command, which finds the running `orderly dev` by
itself. Set ORDERLY_STAFF_TOKEN to a staff member's access token to pay over the API
instead (POST /api/v1/orders/{id}/pay).

The API is --api, else ORDERLY_API_URL (`.orderly/dev.env` sets it), else the one
`orderly dev` publishes in `.orderly/dev.json` (found from this directory upwards).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

PASSWORD = "storefront example password"  # noqa: S105 (a made-up customer's)
FOLLOW_S = 30.0


class ApiError(Exception):
    """The API answered with a problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('code')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


class Api:
    """A client of Orderly's API: JSON in, JSON out, problems raised as :class:`ApiError`."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 (the URL is the shop's API)
            self.base_url + path, data=data, headers=sent, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"code": "unknown", "detail": raw.decode(errors="replace")}
            raise ApiError(error.code, problem) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", help="the API's base URL (default: see above)")
    args = parser.parse_args()
    base_url = args.api or os.environ.get("ORDERLY_API_URL") or _published_api_url()
    if base_url is None:
        complain("No API: start `uv run orderly dev`, or give --api URL.")
        return 2
    try:
        return visit(Api(base_url))
    except ApiError as error:
        complain(f"The API refused: {error}")
        return 1
    except urllib.error.URLError as error:
        complain(f"The API at {base_url} could not be reached: {error.reason}")
        return 3


def visit(api: Api) -> int:
    """Sign up, sign in, pick a product, place, pay and follow an order."""
    email = f"shopper-{uuid.uuid4().hex[:8]}@example.com"
    account = {"email": email, "password": PASSWORD, "display_name": "Storefront shopper"}
    api.call("POST", "/api/v1/users", account)
    tokens = api.call("POST", "/api/v1/auth/token", form={"username": email, "password": PASSWORD})
    customer = Api(api.base_url, tokens["access_token"])
    say(f"1. Signed up and signed in as {email}.")

    products = api.call("GET", "/api/v1/products?active=true")["items"]
    in_stock = [p for p in products if p["available"] > 0]
    if not in_stock:
        say("The shop has nothing in stock: import some products first, for example")
        say("   uv run orderly products import examples/products.csv")
        return 1
    product = in_stock[0]
    say(f"2. {len(products)} product(s) on sale; buying one {product['name']} ({product['sku']}).")

    order = place(customer, product)
    total = f"{order['total'] / 100:.2f} {order['currency']}"
    say(f"3. Placed order {order['id']}: {total}, status {order['status']}.")

    pay(api.base_url, order)
    final = follow(customer, order["id"], until="paid")
    say(f"5. The order is {final['status']} (version {final['version']}).")
    say(f"   Staff ship it next: uv run orderly orders ship {order['id']}")
    return 0 if final["status"] == "paid" else 1


def place(customer: Api, product: dict[str, Any]) -> Any:
    """Place an order for one unit; a shop with shipping rates needs an address and a way to
    ship, which a dry run of the same order offers."""
    order: dict[str, Any] = {
        "lines": [{"sku": product["sku"], "quantity": 1}],
        "shipping_address": {
            "name": "Storefront Shopper",
            "line1": "Hauptstr. 1",
            "postal_code": "10115",
            "city": "Berlin",
            "country": "DE",
        },
    }
    preview = customer.call("POST", "/api/v1/orders?mode=dry_run", order)
    if methods := preview.get("shipping_methods"):
        order["shipping_method"] = methods[0]["code"]
    # One key per order: were the answer lost, the same request again places no second one.
    key = {"Idempotency-Key": f"storefront-{uuid.uuid4()}"}
    return customer.call("POST", "/api/v1/orders", order, headers=key)


def pay(base_url: str, order: dict[str, Any]) -> None:
    """A staff member records the payment (a bank transfer, say) with the manual provider."""
    amount, reference = str(order["total"]), "storefront example"
    staff_token = os.environ.get("ORDERLY_STAFF_TOKEN")
    if staff_token:
        staff = Api(base_url, staff_token)
        body = {"amount": order["total"], "reference": reference}
        key = {"Idempotency-Key": f"storefront-pay-{order['id']}"}
        staff.call("POST", f"/api/v1/orders/{order['id']}/pay", body, headers=key)
        say("4. Staff recorded the payment over the API.")
        return
    orderly = shutil.which("orderly") or str(Path(sys.executable).with_name("orderly"))
    command = [orderly, "orders", "pay", order["id"], "--amount", amount]
    command += ["--reference", reference]
    say(f"4. Staff record the payment: orderly orders pay {order['id']} --amount {amount}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        say(f"   That failed ({done.stderr.strip()}); run it yourself, this waits for it.")


def follow(customer: Api, order_id: str, *, until: str) -> Any:
    """Read the order until its status is ``until`` (or the time is up), saying each
    status it passes through."""
    deadline = time.monotonic() + FOLLOW_S
    seen = None
    while True:
        order = customer.call("GET", f"/api/v1/orders/{order_id}")
        if order["status"] != seen:
            seen = order["status"]
            say(f"   ... order {order_id} is {seen}")
        if seen == until or time.monotonic() > deadline:
            return order
        time.sleep(0.5)


def _published_api_url() -> str | None:
    for folder in (Path.cwd(), *Path.cwd().parents):
        state = folder / ".orderly" / "dev.json"
        if state.is_file():
            url: str = json.loads(state.read_text())["api_url"]
            return url
    return None


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def complain(line: str) -> None:
    sys.stderr.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
