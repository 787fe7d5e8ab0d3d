"""``/api/v1/mail``: the emails Orderly sent, for staff answering "where is my email?".

Reading only: a message is sent again with ``orderly mail resend``. Who may read is the
core's decision (staff, admins, operators).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.responses import Response

from orderly_core.mail.model import MailQuery, MailStatus, MailTemplate
from orderly_core.mail.reading import get_mail, list_mail
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http import limits
from orderly_http.answers import answer, described
from orderly_http.container import Resources
from orderly_http.context import RequestContext
from orderly_http.mail_schemas import MailDetailResource, MailPageResource
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import problem_responses
from orderly_http.routing import Router

router = Router(prefix="/api/v1/mail", tags=["mail"])


@router.get(
    "",
    summary="List mail messages (staff)",
    operation_id="mail.list",
    description=described(list_mail),
    response_model=MailPageResource,
    responses=problem_responses(401, 403, 422),
)
async def list_mail_route(
    *,
    resources: Resources,
    ctx: RequestContext,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    status: Annotated[MailStatus | None, Query(description="Only messages in this state")] = None,
    template: Annotated[MailTemplate | None, Query(description="Only this email")] = None,
    recipient: Annotated[
        str | None,
        Query(
            max_length=254,
            description="Only messages to this address (any case)",
            json_schema_extra=limits.FILTER,
        ),
    ] = None,
) -> Response:
    query = MailQuery(
        limit=limit, cursor=cursor, status=status, template=template, recipient=recipient
    )
    return answer(
        await list_mail(resources.dependencies, ctx, query), ctx, MailPageResource.from_domain
    )


@router.get(
    "/{message_id}",
    summary="Get a mail message with its attempts (staff)",
    operation_id="mail.get",
    description=described(get_mail, "`attempt_log` lists every try, first first."),
    response_model=MailDetailResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_mail_route(*, message_id: str, resources: Resources, ctx: RequestContext) -> Response:
    result = await get_mail(resources.dependencies, ctx, message_id)
    return answer(result, ctx, MailDetailResource.from_detail)
