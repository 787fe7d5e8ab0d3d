"""The API's outer boundary for every HTTP request, as one pure ASGI middleware.

It gives the request its id (the client's ``X-Request-ID`` when well-formed), binds it into
every log line, returns it on every response, writes one access line per request, and turns
an exception that escaped the app into a 500 problem, logging the traceback: no stack trace
ever reaches a client. Add it last in the factory so that it wraps every other middleware.
"""

from __future__ import annotations

import time

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderly_http.context import REQUEST_ID_HEADER, accepted_request_id, remember_request_id
from orderly_http.problems import internal_error

log = structlog.get_logger("orderly_http.access")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        remember_request_id(scope, request_id)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_exception", method=scope["method"], path=scope["path"])
            if not response_started:  # else the server closes the half-sent response
                await internal_error(request_id)(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()
