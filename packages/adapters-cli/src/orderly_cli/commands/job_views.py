"""How ``orderly jobs`` shows background jobs: rich tables for people, JSON for scripts.

A job in JSON has the members of the HTTP API's resource (``summary_view`` in listings,
``job_view`` for one job), with timestamps in RFC 3339 UTC.
"""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text

from orderly_cli import output
from orderly_core.jobs.model import JobRecord, JobSummary, job_view, summary_view
from orderly_core.shared.paging import Page


def summary_json(summary: JobSummary) -> dict[str, Any]:
    return output.json_view(summary_view(summary))


def job_json(record: JobRecord) -> dict[str, Any]:
    """A job as ``GET /api/v1/jobs/{id}`` answers it: the payload without its large fields."""
    return output.json_view(job_view(record))


def show_page(page: Page[JobSummary], *, title: str, empty: str, wide: bool = False) -> None:
    """A page of jobs, newest first, with the cursor of the next page when one follows.

    A job's id (an import's is 71 characters) leaves no room for a table at 100 columns: each
    job is its id on a line of its own, whole, then what became of it, indented. ``wide``
    shows a table with a column each, times in full."""
    out = output.console(wide=wide)
    if not page.items:
        out.print(empty)
    elif wide:
        out.print(_jobs_table(page.items, f"{len(page.items)} {title}, newest first"))
    else:
        out.print(f"{len(page.items)} {title}, newest first")
        for job in page.items:
            out.print()
            out.print(Text(job.id, style="bold"), soft_wrap=True)
            tries = f"{job.attempts} attempt{'' if job.attempts == 1 else 's'}"
            finished = f", finished {output.table_time(job.finished_at)}" if job.finished_at else ""
            out.print(
                Text(
                    f"  {job.name}, {job.status.value}, {tries}, "
                    f"queued {output.table_time(job.created_at)}{finished}"
                )
            )
            if job.request_id:
                out.print(Text(f"  request {job.request_id}"))
            if job.last_error:
                out.print(Text(f"  last error: {job.last_error}"))
    if page.next_cursor:
        out.print(f"Older jobs follow: --cursor {page.next_cursor}")


def _jobs_table(jobs: tuple[JobSummary, ...], title: str) -> Table:
    table = output.list_table(title)
    output.add_id_column(table)
    table.add_column("Name", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Attempts", justify="right", no_wrap=True)
    table.add_column("Queued", no_wrap=True)
    table.add_column("Finished", no_wrap=True)
    table.add_column("Request", overflow="fold")
    table.add_column("Last error", overflow="fold", min_width=12)
    for job in jobs:
        table.add_row(
            Text(job.id),
            job.name,
            job.status.value,
            str(job.attempts),
            output.rfc3339(job.created_at),
            output.time_text(job.finished_at),
            Text(job.request_id or "-"),
            Text(job.last_error or "-"),
        )
    return table


def show_job(record: JobRecord) -> None:
    view = job_view(record)
    out = output.console()
    omitted = ", ".join(view["payload_omitted"])
    rows = (
        ("ID", Text(record.id)),
        ("Name", record.name),
        ("Status", record.status.value),
        ("Attempts", str(record.attempts)),
        ("Last error", Text(record.last_error or "-")),
        ("Request", Text(record.request_id or "-")),
        ("Retry of", Text(record.retry_of or "-")),
        ("Queued", output.rfc3339(record.created_at)),
        ("Started", output.time_text(record.started_at)),
        ("Finished", output.time_text(record.finished_at)),
        ("Updated", output.rfc3339(record.updated_at)),
        ("Payload", Text(json.dumps(view["payload"], ensure_ascii=False, default=str))),
        ("Left out for size", Text(omitted or "-")),
        (
            "Result",
            Text("-" if record.result is None else json.dumps(record.result, default=str)),
        ),
    )
    out.print(output.fields_table(f"Job {record.id}", rows))


def show_retry(job: JobSummary, *, applied: bool, as_json: bool) -> None:
    if as_json:
        output.print_json({"applied": applied, "job": summary_json(job)})
        return
    out = output.console()
    if applied:
        out.print(
            Text(
                f"Job {job.retry_of} will run again as job {job.id}; Orderly's worker runs it. "
                f"Follow it with `orderly jobs show {job.id}`."
            )
        )
    else:
        out.print(f"[bold]{output.NOT_APPLIED}.[/bold] ", end="")
        out.print(Text(f"Job {job.retry_of} would run again as job {job.id}."))
