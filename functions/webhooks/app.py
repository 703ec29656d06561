"""SQS-triggered status callbacks: one delivery attempt per receive; a failed one comes back after a
growing delay, and after the queue's receive limit it goes to the dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.adapters.webhooks import DeliveryFailed
from bulksms.service.notify import retry_delay_s

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    message = json.loads(record.body)
    logger.append_keys(job_id=message.get("job_id"))
    try:
        runtime.status_callback_deliverer()(message)
    except DeliveryFailed as failure:
        attempt = int(record.attributes.approximate_receive_count)
        delay = retry_delay_s(attempt)
        logger.warning(
            "status callback failed", extra={"attempt": attempt, "reason": str(failure), "retry_in_s": delay}
        )
        metrics.add_metric(name="StatusCallbackFailed", unit="Count", value=1)
        runtime.webhook_queue().retry_in(record.receipt_handle, delay)
        raise


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
