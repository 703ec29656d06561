"""SQS-triggered sender: each record is a group of chunks of one job (or a scheduled job's start);
failures are reported per record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.domain.send_messages import parse_message, parse_start
from bulksms.service.pacing import send_message
from bulksms.service.scheduling import start_job
from bulksms.service.sending import RetryLater
from bulksms.settings import settings

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    if start := parse_start(record.body):
        logger.append_keys(job_id=start)
        start_job(runtime.store(), runtime.send_queue(), start, settings().chunks_per_message)
        return
    job_id, chunks = parse_message(record.body)
    logger.append_keys(job_id=job_id)
    try:
        counts = send_message(
            runtime.sender(),
            runtime.send_queue(),
            job_id,
            chunks,
            lambda_context.get_remaining_time_in_millis,
        )
    except RetryLater as later:  # out of time (the rate cap's hand-back does not raise)
        runtime.send_queue().retry_in(record.receipt_handle, later.retry_after_s)
        raise
    for status, count in counts.items():
        metrics.add_metric(name=f"Recipients{status.value.capitalize()}", unit="Count", value=count)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
