"""The API's outer boundary for every HTTP request, as pure ASGI middleware.

From the outside in (see :func:`orderly_http.app.create_app`):

- :class:`SecurityHeadersMiddleware` wraps even Starlette's last-resort error handler, so every
  response leaves with the security headers;
- :class:`RequestIdMiddleware` gives the request its id, binds it into every log line, returns
  it on every response, writes one access line per request and counts it in the metrics
  (by route template, method and status, with its duration);
- CORS (:mod:`orderly_http.security`), when origins are configured, so a browser can read
  every answer below it, problems and 500s included;
- :class:`ErrorBoundaryMiddleware` turns an exception that escaped the app into a 500 problem,
  logging the traceback: no stack trace ever reaches a client;
- :class:`BodyLimitMiddleware` refuses oversized request bodies while they stream in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderly_db.log import logs_at
from orderly_http.context import (
    REQUEST_ID_HEADER,
    accepted_request_id,
    remember_request_id,
    request_id_of,
)
from orderly_http.problems import payload_too_large, unexpected
from orderly_http.security import SecurityPolicy
from orderly_telemetry.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS, UNMATCHED_ROUTE

log = structlog.get_logger("orderly_http.access")


def printable_path(path: str) -> str:
    """The request's path as a log line shows it: control characters, spaces and anything
    outside ASCII percent-encoded again (as on the wire), so that a path carrying ``%00`` or
    ``%0A`` can neither break a console log line nor forge another."""
    return quote(path, safe=_PATH_SAFE)


_PATH_SAFE = "/:@!$&'()*+,;=-._~%"  # what a path may hold as it is; the rest is %-encoded

type RawHeaders = list[tuple[bytes, bytes]]
"""Headers as ASGI carries them: lower-case names, Latin-1 bytes."""

_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()


def request_header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request's header ``name`` (lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def with_headers(headers: Iterable[tuple[bytes, bytes]], added: RawHeaders) -> RawHeaders:
    """``headers`` with ``added`` in place of any of the same names (as
    ``MutableHeaders.__setitem__`` would set them, without building it per response)."""
    names = {name for name, _ in added}
    return [header for header in headers if header[0].lower() not in names] + added


type _Observers = tuple[Any, Any]  # a request's counter and duration histogram, labelled
# The labelled metrics of each (route template, method, status) met so far: labelling one
# takes a lock and a lookup, a few microseconds, paid once per combination instead of per
# request. Templates, methods and statuses are few, so this stays small.
_OBSERVERS: dict[tuple[str, str, int], _Observers] = {}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _observers(scope: Scope, status: int) -> _Observers:
    route = scope.get("route")
    template = getattr(route, "path", None) if route is not None else None
    method: str = scope["method"]
    if method not in _METHODS:  # any token is a method to HTTP: never a label of its own
        method = "OTHER"
    key = (template or UNMATCHED_ROUTE, method, status)
    found = _OBSERVERS.get(key)
    if found is None:
        found = _OBSERVERS[key] = (
            HTTP_REQUESTS.labels(key[0], method, str(status)),
            HTTP_REQUEST_DURATION.labels(key[0], method),
        )
    return found


class SecurityHeadersMiddleware:
    """Adds the headers of :class:`SecurityPolicy` to every response."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy
        self._encoded: dict[tuple[bool, bool], RawHeaders] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secured = self._headers_for(
            scope["path"], authorized=request_header(scope, b"authorization") is not None
        )

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_headers(message.get("headers", ()), secured)
            await send(message)

        await self.app(scope, receive, send_secured)

    def _headers_for(self, path: str, *, authorized: bool) -> RawHeaders:
        """The policy's headers, encoded once for each of the few sets it gives."""
        key = (path in self.policy.docs_paths, authorized)
        encoded = self._encoded.get(key)
        if encoded is None:
            encoded = self._encoded[key] = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in self.policy.headers_for(path, authorized=authorized)
            ]
        return encoded


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(request_header(scope, _REQUEST_ID))
        remember_request_id(scope, request_id)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped to the server

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = with_headers(
                    message.get("headers", ()), [(_REQUEST_ID, request_id.encode())]
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_s = time.perf_counter() - started
            requests, durations = _observers(scope, status)
            requests.inc()
            durations.observe(duration_s)
            if logs_at(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    path=printable_path(scope["path"]),
                    status=status,
                    duration_ms=round(duration_s * 1000, 2),
                )
            structlog.contextvars.clear_contextvars()


class ErrorBoundaryMiddleware:
    """Answers an exception that escaped the app with a problem (503 when a server is
    unavailable for now, 500 otherwise; see :func:`orderly_http.problems.unexpected`).

    It sits inside CORS so that a browser can read the 500; anything failing further out is
    left to Starlette's error middleware, which answers the same problem.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_tracked(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as error:
            answer = unexpected(
                error,
                request_id_of(scope),
                method=scope["method"],
                path=printable_path(scope["path"]),
            )
            if not response_started:  # else the server closes the half-sent response
                await answer(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised to the app from ``receive``; an HTTPException, so FastAPI passes it through
    instead of calling it a malformed body."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class _CappedBody:
    """One request's ``receive`` and ``send``, counting the body against its limit.

    ``receive`` raises :class:`_BodyTooLarge` at the first chunk that crosses the limit (and
    on every read after it); ``send`` then drops the app's answer to the interrupted read,
    unless a response had already started.
    """

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._received = 0
        self.exceeded = False
        self.response_started = False

    @property
    def refused(self) -> bool:
        """The body crossed the limit before any response started: the 413 answers it."""
        return self.exceeded and not self.response_started

    async def receive(self) -> Message:
        if self.exceeded:
            raise _BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                self.exceeded = True
                raise _BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the app's answer to the interrupted read; the 413 replaces it
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)


def _framed_within_limit(scope: Scope, declared: str | None) -> bool:
    """True when HTTP/1's framing already holds the body within the limit: a declared
    ``Content-Length`` (the server reads that many bytes and no more) not over it, or no body
    at all (neither ``Content-Length`` nor ``Transfer-Encoding``). Only a chunked body, or
    one under another protocol, is counted as it streams."""
    if scope.get("http_version") not in _HTTP_1 or request_header(scope, b"transfer-encoding"):
        return False
    return declared is None or declared.isdigit()


_HTTP_1 = frozenset({"1.0", "1.1"})


class BodyLimitMiddleware:
    """Refuses a request body larger than its path's limit with a 413 problem.

    A declared ``Content-Length`` over the limit is refused before any of the body is read;
    a body without one (chunked) is counted as it streams and cut off at the first chunk that
    crosses the limit, so an oversized body is never held in memory. Whatever the app made
    of the interrupted read is replaced by the 413.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        declared = request_header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await payload_too_large(request_id_of(scope), limit)(scope, receive, send)
            return
        if _framed_within_limit(scope, declared):
            await self.app(scope, receive, send)
            return
        body = _CappedBody(receive, send, limit)
        try:
            await self.app(scope, body.receive, body.send)
        except _BodyTooLarge:
            if body.response_started:
                raise
        if body.refused:
            await payload_too_large(request_id_of(scope), limit)(scope, receive, send)
