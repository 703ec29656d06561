"""One send-queue message through the sender, with the send-rate cap's hand-back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from aws_lambda_powertools import Logger

from bulksms.domain.ports import SendQueue
from bulksms.domain.status import RecipientStatus
from bulksms.service.sending import RetryLater, Sender

logger = Logger(child=True)


def send_message(
    sender: Sender, queue: SendQueue, job_id: str, chunks: Sequence[int], remaining_ms: Callable[[], int]
) -> Counter[RecipientStatus]:
    """Send a message's chunks. Chunks the rate cap left pending go back to the queue as a new message,
    visible when the budget has room: waiting would bill idle Lambda time, and failing the message
    would count a receive toward the dead-letter queue although nothing went wrong."""
    try:
        return sender.process(job_id, chunks, remaining_ms)
    except RetryLater as later:
        if later.after_s is None:
            raise
        queue.enqueue(job_id, [list(chunks)], delay_s=later.after_s)  # done chunks are skipped later
        logger.info("send rate spent; chunks handed back", extra={"job_id": job_id, "after_s": later.after_s})
        return Counter()
