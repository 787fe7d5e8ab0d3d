"""No password, password hash, signing key or token leaks into an answer or a log line.

The whole account flow runs (sign up, sign in, refresh, reuse, profile and password changes,
failures, sign out); every answer and every log event is searched for each secret. Tokens may
appear only in the answers of the token endpoints that hand them out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx
import pytest
from structlog.testing import capture_logs

from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import (
    JWT_SECRET,
    PASSWORD,
    TOKEN_URL,
    bearer,
)

NEW_PASSWORD = "another secret passphrase"
WRONG_PASSWORD = "a wrong guess at it"


@dataclass
class Flow:
    answers: list[httpx.Response] = field(default_factory=list)  # must hold no secret at all
    token_answers: list[httpx.Response] = field(default_factory=list)  # may hold tokens
    tokens: list[str] = field(default_factory=list)
    password_hashes: list[str] = field(default_factory=list)

    def keep(self, response: httpx.Response) -> httpx.Response:
        self.answers.append(response)
        return response

    def keep_tokens(self, response: httpx.Response) -> dict[str, str]:
        assert response.status_code == 200, response.text
        self.token_answers.append(response)
        pair: dict[str, str] = response.json()
        self.tokens += [pair["access_token"], pair["refresh_token"]]
        return pair

    @property
    def secrets(self) -> list[str]:
        return [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, JWT_SECRET, *self.password_hashes]


async def _hash_of(deps: Dependencies, email: str) -> str:
    async with deps.unit_of_work() as uow:
        user = await uow.users.get_by_email(email)
    assert user is not None
    return user.password_hash


async def _whole_flow(client: httpx.AsyncClient, deps: Dependencies) -> Flow:
    flow = Flow()
    email = "ann@example.com"
    flow.keep(
        await client.post(
            "/api/v1/users", json={"email": email, "password": PASSWORD, "display_name": "Ann"}
        )
    )
    flow.password_hashes.append(await _hash_of(deps, email))
    flow.keep(
        await client.post(
            "/api/v1/users",
            json={"email": "x@example.com", "password": PASSWORD, "display_name": "X", "id": 1},
        )
    )
    flow.keep(await client.post(TOKEN_URL, data={"username": email, "password": WRONG_PASSWORD}))
    first = flow.keep_tokens(
        await client.post(TOKEN_URL, data={"username": email, "password": PASSWORD})
    )
    headers = bearer(first["access_token"])
    flow.keep(await client.get("/api/v1/users/me", headers=headers))
    flow.keep(await client.patch("/api/v1/users/me", json={"display_name": "A"}, headers=headers))
    second = flow.keep_tokens(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    )
    flow.keep(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    )
    password_change = {"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD}
    flow.keep(await client.post("/api/v1/users/me/password", json=password_change, headers=headers))
    password_change["current_password"] = PASSWORD
    flow.keep(await client.post("/api/v1/users/me/password", json=password_change, headers=headers))
    flow.password_hashes.append(await _hash_of(deps, email))
    flow.keep(await client.get("/api/v1/users/me", headers=bearer(second["access_token"] + "x")))
    third = flow.keep_tokens(
        await client.post(TOKEN_URL, data={"username": email, "password": NEW_PASSWORD})
    )
    flow.keep(
        await client.post("/api/v1/auth/logout", json={"refresh_token": third["refresh_token"]})
    )
    assert len(flow.tokens) == 6
    return flow


def _assert_free_of(texts: list[str], secrets: list[str], where: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret appears in {where}: {text[:200]}"


def _answer_text(response: httpx.Response) -> str:
    return response.text + repr(sorted(response.headers.items()))


async def test_no_secret_in_any_answer_or_log_event(
    client: httpx.AsyncClient, pg_deps: Dependencies, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as events:
        flow = await _whole_flow(client, pg_deps)

    assert any(event["event"] == "request" for event in events)  # the capture did capture
    answers = [_answer_text(response) for response in flow.answers]
    _assert_free_of(answers, flow.secrets + flow.tokens, "an answer")
    _assert_free_of(
        [_answer_text(response) for response in flow.token_answers], flow.secrets, "a token answer"
    )
    logged = [repr(event) for event in events]
    logged += [f"{record.getMessage()} {record.__dict__!r}" for record in caplog.records]
    _assert_free_of(logged, flow.secrets + flow.tokens, "a log line")


async def test_no_secret_in_the_rendered_log_output(
    client: httpx.AsyncClient, pg_deps: Dependencies, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    flow = await _whole_flow(client, pg_deps)

    rendered = capsys.readouterr().err
    assert '"event": "request"' in rendered  # the JSON lines were written here
    _assert_free_of(rendered.splitlines(), flow.secrets + flow.tokens, "the log output")
