"""The URL rules and the policy of webhooks, as registering applies them, on the fakes and on
PostgreSQL: public https URLs only, unless the policy allows plain http or private addresses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orderly_core.shared.errors import InvalidInput
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.endpoints import NewEndpoint, register_endpoint
from orderly_core.webhooks.policy import WebhookPolicy
from tests.core.helpers import ctx, err
from tests.core.webhooks.helpers import PLACED, all_endpoints, field_errors, register


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "is required"),
        ("hooks.example.com/orderly", "must be an absolute https:// URL"),
        ("ftp://hooks.example.com/", "must be an absolute https:// URL"),
        ("http://hooks.example.com/", "plain http is not allowed"),
        ("https:///orderly", "must name a host"),
        ("https://ann:pw@hooks.example.com/", "must not carry a user name or password"),
        ("https://ann@hooks.example.com/", "must not carry a user name or password"),
        ("https://hooks.example.com/#top", "must not have a fragment"),
        ("https://hooks.example.com/a b", "must not contain spaces"),
        ("https://hooks.example.com:70000/", "is not a valid URL"),
        ("https://hooks.example.com/" + "a" * 2030, "must be at most 2048 characters"),
        ("https://localhost/hook", "must not name localhost"),
        ("https://api.localhost/hook", "must not name localhost"),
        ("https://127.0.0.1:8443/hook", "not public"),
        ("https://127.1/hook", "not public"),
        ("https://2130706433/hook", "not public"),
        ("https://[::1]/hook", "not public"),
        ("https://[::ffff:10.0.0.1]/hook", "not public"),
        ("https://10.0.0.7/hook", "not public"),
        ("https://172.16.3.4/hook", "not public"),
        ("https://192.168.1.20/hook", "not public"),
        ("https://169.254.169.254/latest/meta-data", "not public"),
        ("https://[fe80::1]/hook", "not public"),
        ("https://100.64.0.1/hook", "not public"),
        ("https://240.0.0.1/hook", "not public"),
        ("https://239.1.2.3/hook", "not public"),
        ("https://0.0.0.0/hook", "not public"),
        ("https://[::]/hook", "not public"),
    ],
)
async def test_urls_that_cannot_receive_webhooks_are_refused(
    deps: Dependencies, url: str, message: str
) -> None:
    error = err(await register_endpoint(deps, ctx(), NewEndpoint(url, PLACED)))

    assert isinstance(error, InvalidInput)
    assert list(field_errors(error)) == ["url"]
    assert message in field_errors(error)["url"]
    assert await all_endpoints(deps) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/orderly?shop=1",
        "https://hooks.example.com:8443/orderly",
        "https://93.184.215.14/orderly",
        "https://[2606:4700:4700::1111]/orderly",
        "  https://hooks.example.com/orderly  ",
    ],
)
async def test_public_https_urls_are_accepted(deps: Dependencies, url: str) -> None:
    registered = await register(deps, url)

    assert registered.endpoint.url == url.strip()


async def test_plain_http_and_private_addresses_need_the_policy_to_allow_them(
    deps: Dependencies,
) -> None:
    http_only = replace(deps, webhooks=WebhookPolicy(allow_http=True))
    private_only = replace(deps, webhooks=WebhookPolicy(allow_private_addresses=True))
    both = replace(deps, webhooks=WebhookPolicy(allow_http=True, allow_private_addresses=True))

    assert (await register(http_only, "http://hooks.example.com/")).endpoint.url.startswith(
        "http://"
    )
    refused = err(
        await register_endpoint(http_only, ctx(), NewEndpoint("http://127.0.0.1:9000/", PLACED))
    )
    assert isinstance(refused, InvalidInput)
    assert "not public" in field_errors(refused)["url"]
    await register(private_only, "https://localhost:9443/hook")
    refused = err(
        await register_endpoint(private_only, ctx(), NewEndpoint("http://10.0.0.7/", PLACED))
    )
    assert isinstance(refused, InvalidInput)
    assert "plain http is not allowed" in field_errors(refused)["url"]
    local = await register(both, "http://127.0.0.1:9000/hook")
    assert local.endpoint.url == "http://127.0.0.1:9000/hook"
    assert [e.url for e in await all_endpoints(deps)] == [
        "http://hooks.example.com/",
        "https://localhost:9443/hook",
        "http://127.0.0.1:9000/hook",
    ]
