"""DynamoDB Streams-triggered counts: sums a batch of recipient changes into one update per job.

A failed batch raises, so the event source delivers it again (bisecting it); the per-partition
sequence guard makes a second delivery of a change count nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.adapters.store import status_change
from bulksms.service.counting import apply_changes

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    changes = [change for record in records if (change := status_change(record))]
    tally = apply_changes(runtime.store(), changes, runtime.notifier())
    metrics.add_metric(name="StatusChanges", unit="Count", value=len(changes))
    for name, count in tally.items():
        metrics.add_metric(name=name, unit="Count", value=count)
    logger.info("counts applied", extra={"records": len(records), "changes": len(changes), **tally})
    return dict(tally)
