"""EventBridge Scheduler: one one-time schedule per scheduled job, which puts the job's start message
on the send queue at its time and then deletes itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from bulksms.adapters import aws
from bulksms.domain.schedule import at_expression
from bulksms.domain.send_messages import start_message


def schedule_name(job_id: str) -> str:
    return f"job-{job_id}"


class JobScheduler:
    """The `StartScheduler` (domain/ports.py) on EventBridge Scheduler."""

    def __init__(
        self, group: str, role_arn: str, queue_arn: str, dead_letter_arn: str, client: Any = None
    ) -> None:
        self._group = group
        self._role_arn = role_arn
        self._queue_arn = queue_arn
        self._dead_letter_arn = dead_letter_arn
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.scheduler()

    def schedule_start(self, job_id: str, when: datetime) -> None:
        """Create the job's schedule; one that exists already (an interrupted run made it) is fine."""
        try:
            self._create(job_id, when)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConflictException":
                raise

    def _create(self, job_id: str, when: datetime) -> None:
        self.client.create_schedule(
            Name=schedule_name(job_id),
            GroupName=self._group,
            ScheduleExpression=at_expression(when),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": self._queue_arn,
                "RoleArn": self._role_arn,
                "Input": start_message(job_id),
                # Undeliverable starts land beside failed send batches, under the same alarm.
                "DeadLetterConfig": {"Arn": self._dead_letter_arn},
            },
        )

    def cancel(self, job_id: str) -> None:
        """Delete the job's schedule; one that already fired (and deleted itself) is fine."""
        try:
            self.client.delete_schedule(Name=schedule_name(job_id), GroupName=self._group)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
