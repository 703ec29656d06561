"""Scheduled sweeper: settles abandoned claims and stopped jobs, requeues stalled chunks, finishes jobs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.service.sweeping import sweep
from bulksms.settings import settings

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    tally = sweep(
        runtime.store(),
        runtime.send_queue(),
        runtime.executor(),
        requeue_after_s=settings().requeue_after_s,
        chunks_per_message=settings().chunks_per_message,
        on_finished=runtime.notifier(),
    )
    for name, count in tally.items():
        metrics.add_metric(name=name, unit="Count", value=count)
    if tally:
        logger.info("sweep done", extra=dict(tally))
    return dict(tally)
