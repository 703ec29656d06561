"""Public API: send, job status, recipients, cancel, the suppression list and inbound messages.
Shapes answers; the rules live in bulksms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.api_errors import load_json_body, register_error_handlers, reject_unusable_body
from bulksms.domain.status import JobStatus, RecipientStatus
from bulksms.models import (
    DryRunResult,
    InboundPage,
    JobsPage,
    JobView,
    RecipientsPage,
    RejectedPage,
    SendAccepted,
    SendRequest,
    Suppression,
    SuppressionBulkAnswer,
    SuppressionBulkRequest,
    SuppressionRequest,
    SuppressionsPage,
)
from bulksms.service import queries
from bulksms.service.errors import NotFound
from bulksms.settings import settings

if TYPE_CHECKING:
    from bulksms.domain.job import Job

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=load_json_body)
register_error_handlers(app)
JobId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
Number = Annotated[str, Path(min_length=1, max_length=32)]
Limit = Annotated[int, Query(ge=1, le=1000)]
NextToken = Annotated[str | None, Query(max_length=1024)]


@app.post(
    "/v1/messages",
    responses={
        202: {"description": "Job accepted", "content": {"application/json": {"model": SendAccepted}}},
        200: {
            "description": "dry_run: what the send would be",
            "content": {"application/json": {"model": DryRunResult}},
        },
    },
)
def send(
    request: Annotated[SendRequest, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> Response[SendAccepted | DryRunResult]:
    # Imported here: only this route needs idempotency (powertools' utility and the submission rules).
    from bulksms import idempotent

    idempotent.register_context(app.lambda_context)
    answer = idempotent.submit_idempotently(
        request, idempotency_key or app.current_event.headers.get("idempotency-key")
    )
    if request.dry_run:
        return Response(200, content_types.APPLICATION_JSON, DryRunResult.model_validate(answer))
    metrics.add_metric(name="RecipientsAccepted", unit="Count", value=answer["accepted"])
    return Response(202, content_types.APPLICATION_JSON, SendAccepted.model_validate(answer))


@app.get("/v1/messages")
def list_jobs(
    status: Annotated[JobStatus | None, Query()] = None,
    limit: Limit = 100,
    next_token: NextToken = None,
) -> JobsPage:
    page = runtime.store().jobs_page(status=status, limit=limit, token=next_token)
    items = [queries.job_view(job) for job in page.items]
    return JobsPage.model_validate({"items": items, "next_token": page.next_token})


@app.get("/v1/messages/<job_id>")
def get_job(job_id: JobId) -> JobView:
    job = runtime.store().get_job(job_id)
    if job is None:
        raise NotFound("job")
    return JobView.model_validate(queries.job_view(job))


@app.get("/v1/messages/<job_id>/recipients")
def list_recipients(
    job_id: JobId,
    status: Annotated[RecipientStatus | None, Query()] = None,
    limit: Limit = 100,
    next_token: NextToken = None,
) -> RecipientsPage:
    if runtime.store().get_job(job_id) is None:
        raise NotFound("job")
    page = runtime.store().recipients_page(job_id, status=status, limit=limit, token=next_token)
    items = [queries.recipient_view(item) for item in page.items]
    return RecipientsPage.model_validate({"items": items, "next_token": page.next_token})


@app.get("/v1/messages/<job_id>/rejected")
def list_rejected(job_id: JobId, limit: Limit = 100, next_token: NextToken = None) -> RejectedPage:
    job = runtime.store().get_job(job_id)
    if job is None:
        raise NotFound("job")
    page = runtime.store().rejected_page(job_id, job.rejected_count, limit=limit, token=next_token)
    return RejectedPage.model_validate({"items": page.items, "next_token": page.next_token})


@app.delete(
    "/v1/messages/<job_id>",
    responses={
        200: {"description": "Cancelled: nothing was left to settle"},
        202: {"description": "Cancelling: pending numbers are being settled in the background"},
    },
)
def cancel(job_id: JobId) -> Response[JobView]:
    # Imported here: only this route stops a job (its lifecycle and the numbers' attempts) and
    # takes it off the schedule.
    from bulksms.service import cancellation, scheduling

    def unschedule(job: Job) -> None:
        scheduling.unschedule(runtime.scheduler(), runtime.send_queue(), job, settings().chunks_per_message)

    job, settling = cancellation.cancel(runtime.store(), job_id, unschedule=unschedule)
    view = JobView.model_validate(queries.job_view(job))
    return Response(202 if settling else 200, content_types.APPLICATION_JSON, view)


@app.put("/v1/suppressions/<number>")
def suppress(number: Number, request: Annotated[SuppressionRequest | None, Body()] = None) -> Suppression:
    reason = request.reason if request else None
    return Suppression.model_validate(runtime.suppressions().add(number, reason))


@app.post("/v1/suppressions")
def suppress_many(request: Annotated[SuppressionBulkRequest, Body()]) -> SuppressionBulkAnswer:
    return SuppressionBulkAnswer.model_validate(
        runtime.suppressions().add_many(request.numbers, request.reason)
    )


@app.get("/v1/suppressions/<number>")
def get_suppression(number: Number) -> Suppression:
    return Suppression.model_validate(runtime.suppressions().get(number))


@app.delete("/v1/suppressions/<number>")
def unsuppress(number: Number) -> Suppression:
    """Remove the number from the list; the answer is the entry that was removed."""
    return Suppression.model_validate(runtime.suppressions().remove(number))


@app.get("/v1/suppressions")
def list_suppressions(limit: Limit = 100, next_token: NextToken = None) -> SuppressionsPage:
    return SuppressionsPage.model_validate(runtime.suppressions().page(limit, next_token))


@app.get("/v1/inbound")
def list_inbound(limit: Limit = 100, next_token: NextToken = None) -> InboundPage:
    return InboundPage.model_validate(runtime.inbound().page(limit, next_token))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if unreadable := reject_unusable_body(event, settings().max_body_bytes):
        return unreadable
    return app.resolve(event, context)
