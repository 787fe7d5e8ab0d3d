"""What the API tells browsers about itself: security headers and cross-origin access.

The API serves JSON to programs, so its Content-Security-Policy allows nothing at all. Only
the interactive docs are pages: Swagger UI and ReDoc load their scripts, styles and icon from
the API itself (``orderly_http.docs_pages``), so those two pages get a policy that allows this
origin only: no inline script, no CDN, no web fonts. Their styles may be inline (both UIs set
style attributes and ReDoc injects its generated stylesheet), ReDoc runs its search in a
worker made from a blob, and both draw some icons as ``data:`` images.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderly_http.context import (
    IDEMPOTENCY_KEY_HEADER,
    MODE_HEADER,
    REQUEST_ID_HEADER,
    request_id_of,
)
from orderly_http.problems import problem_response

API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

CORS_METHODS = ("GET", "POST", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    IDEMPOTENCY_KEY_HEADER,
    REQUEST_ID_HEADER,
)
CORS_EXPOSED_HEADERS = (
    REQUEST_ID_HEADER,
    "ETag",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    MODE_HEADER,
)
CORS_MAX_AGE_S = 600


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    docs_paths: frozenset[str] = frozenset()
    hsts_max_age_s: int | None = None  # None: the API is not known to be reached over TLS

    def headers_for(self, path: str, *, authorized: bool) -> list[tuple[str, str]]:
        """The headers of a response to ``path``; ``authorized``: the request carried
        credentials, so no cache may keep the answer."""
        headers = [
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Content-Security-Policy", DOCS_CSP if path in self.docs_paths else API_CSP),
        ]
        if self.hsts_max_age_s is not None:
            headers.append(("Strict-Transport-Security", f"max-age={self.hsts_max_age_s}"))
        if authorized:
            headers.append(("Cache-Control", "no-store"))
        return headers


class AllowListCors(CORSMiddleware):
    """Starlette's CORS for an allow-list of origins, refusing a preflight without CORS headers.

    Starlette answers a refused preflight with plain text that still lists the allowed methods
    and headers; here it is a problem document and tells a foreign origin nothing.
    """

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            allow_credentials=False,  # bearer tokens, never cookies
            max_age=CORS_MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._refused_preflight(scope):
            refused = problem_response(
                request_id_of(scope),
                status=403,
                code="cors_rejected",
                title="Cross-origin request refused",
                detail="This origin, method or header may not call the API from a browser.",
            )
            await refused(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        """Starlette names the exposed headers to any origin; a foreign one learns nothing."""
        origin = request_headers.get("origin")
        if (
            message["type"] == "http.response.start"
            and origin
            and not self.is_allowed_origin(origin)
        ):
            message.setdefault("headers", [])
            MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)
            return
        await super().send(message, send, request_headers)

    def _refused_preflight(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            return False
        headers = Headers(scope=scope)
        if "origin" not in headers or "access-control-request-method" not in headers:
            return False
        return self.preflight_response(request_headers=headers).status_code != 200
