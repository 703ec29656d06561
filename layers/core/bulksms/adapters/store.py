"""DynamoDB store: one table holds each job, its chunks and its recipients under the job's key.

  pk = JOB#<job_id>   sk = JOB              the job: message, status, per-status counters
                      sk = CHUNK#<nnnnnn>   up to a chunk-size of numbers, and the chunk's claim state
                      sk = R#<number>       one recipient's outcome
                      sk = REJECTED#<nnnnnn> up to 500 rejected inputs, in input order (JSON)

Counters move only in the write that settles a chunk (guarded by the job's `settled_chunks` set)
or moves a recipient (a transaction with the recipient's conditional update), so a retried write can
never count twice, and `n_queued` reaching 0 is what finishes a job.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from bulksms.adapters import aws
from bulksms.domain.attempts import RecipientResult
from bulksms.domain.status import JobStatus, RecipientStatus, can_move

JOB_SK = "JOB"
CHUNK_PREFIX = "CHUNK#"
RECIPIENT_PREFIX = "R#"
REJECTED_PREFIX = "REJECTED#"
REJECTED_PER_ITEM = 500  # entries of at most ~250 bytes: an item stays far below DynamoDB's 400 KB
ACTIVE_INDEX = "active-jobs"
ACTIVE_FLAG = "1"
_BATCH_WRITE_LIMIT = 25
_BATCH_GET_LIMIT = 100
_WRITE_ATTEMPTS = 8
_ACTIVE = [JobStatus.QUEUED.value, JobStatus.SENDING.value]


class ChunkState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"


class InvalidPageToken(ValueError):
    pass


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": JOB_SK}


def chunk_key(job_id: str, chunk: int) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": f"{CHUNK_PREFIX}{chunk:06d}"}


def recipient_key(job_id: str, to: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": f"{RECIPIENT_PREFIX}{to}"}


def counter(status: RecipientStatus) -> str:
    return f"n_{status.value}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def counts_of(job: Mapping[str, Any]) -> dict[str, int]:
    counts = {"total": int(job["total"])}
    counts.update({status.value: int(job.get(counter(status), 0)) for status in RecipientStatus})
    return counts


def chunk_numbers(chunk: Mapping[str, Any]) -> list[str]:
    return str(chunk["numbers"]).split(",")


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_token: str | None


class Store:
    def __init__(self, table_name: str, retention_days: int, resource: Any = None) -> None:
        self._table_name = table_name
        self._retention_s = retention_days * 86_400
        self._resource = resource

    @property
    def table(self) -> Any:
        return (self._resource or aws.dynamodb()).Table(self._table_name)

    @property
    def client(self) -> Any:
        return (self._resource or aws.dynamodb()).meta.client

    def expires_at(self) -> int:
        return int(time.time()) + self._retention_s

    # ---- jobs -------------------------------------------------------------------------------

    def create_job(self, job: dict[str, Any], chunks: Sequence[Sequence[str]]) -> None:
        """Chunks first, then the job: a job that is visible always has all its chunks."""
        job_id = job["job_id"]
        expires = self.expires_at()
        self.batch_write(
            {
                **chunk_key(job_id, index),
                "chunk": index,
                "state": ChunkState.PENDING.value,
                "numbers": ",".join(numbers),
                "count": len(numbers),
                "expires_at": expires,
            }
            for index, numbers in enumerate(chunks)
        )
        total = sum(len(numbers) for numbers in chunks)
        item = {
            **job,
            **job_key(job_id),
            "status": JobStatus.QUEUED.value,
            "total": total,
            "chunk_count": len(chunks),
            "active": ACTIVE_FLAG,
            "expires_at": expires,
            counter(RecipientStatus.QUEUED): total,
        }
        item.update({counter(s): 0 for s in RecipientStatus if s is not RecipientStatus.QUEUED})
        self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(Key=job_key(job_id), ConsistentRead=True).get(
            "Item"
        )
        return item

    def mark_sending(self, job_id: str) -> None:
        try:
            self.table.update_item(
                Key=job_key(job_id),
                UpdateExpression="SET #status = :sending, updated_at = :now",
                ConditionExpression="#status = :queued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":sending": JobStatus.SENDING.value,
                    ":queued": JobStatus.QUEUED.value,
                    ":now": now_iso(),
                },
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def request_stop(self, job_id: str, outcome: JobStatus, code: str, reason: str) -> bool:
        """Record that the rest of a job must not be sent. False if it was already stopped or finished."""
        try:
            self.table.update_item(
                Key=job_key(job_id),
                UpdateExpression="SET #stop = :stop, updated_at = :now",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(#stop) AND #status IN (:q, :s)"
                ),
                ExpressionAttributeNames={"#stop": "stop", "#status": "status"},
                ExpressionAttributeValues={
                    ":stop": {"outcome": outcome.value, "code": code, "reason": reason, "at": now_iso()},
                    ":q": _ACTIVE[0],
                    ":s": _ACTIVE[1],
                    ":now": now_iso(),
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def finish_if_done(self, job_id: str) -> dict[str, Any] | None:
        """Move a job with no queued recipient to its final status, exactly once.

        Returns the finished job item to the one caller that made the move, else None.
        """
        job = self.get_job(job_id)
        if not job or job["status"] not in _ACTIVE or int(job[counter(RecipientStatus.QUEUED)]) != 0:
            return None
        stop = job.get("stop")
        final = stop["outcome"] if stop else JobStatus.COMPLETED.value
        condition = "#queued = :zero AND #status IN (:q, :s) AND " + (
            "#stop.outcome = :final" if stop else "attribute_not_exists(#stop)"
        )
        finished_at = now_iso()
        try:
            self.table.update_item(
                Key=job_key(job_id),
                UpdateExpression="SET #status = :final, updated_at = :now, finished_at = :now REMOVE active",
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    "#status": "status",
                    "#queued": counter(RecipientStatus.QUEUED),
                    "#stop": "stop",
                },
                ExpressionAttributeValues={
                    ":final": final,
                    ":zero": 0,
                    ":q": _ACTIVE[0],
                    ":s": _ACTIVE[1],
                    ":now": finished_at,
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        # A chunk counted by a claimer that died before its bookkeeping would stay `claimed`: once the
        # job is finished nobody else looks at it.
        settled = job.get("settled_chunks", set())
        for chunk in self.job_chunks(job_id):
            if chunk["state"] != ChunkState.DONE.value and int(chunk["chunk"]) in settled:
                self.mark_done(job_id, int(chunk["chunk"]))
        return {**job, "status": final, "finished_at": finished_at}

    def active_job_ids(self) -> list[str]:
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "IndexName": ACTIVE_INDEX,
            "KeyConditionExpression": "active = :one",
            "ExpressionAttributeValues": {":one": ACTIVE_FLAG},
        }
        while True:
            page = self.table.query(**kwargs)
            ids.extend(item["pk"].removeprefix("JOB#") for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ---- chunks -----------------------------------------------------------------------------

    def load_chunks(self, job_id: str, chunks: Sequence[int]) -> dict[int, dict[str, Any]]:
        items = self._batch_get([chunk_key(job_id, index) for index in chunks])
        return {int(item["chunk"]): item for item in items}

    def get_recipients(self, job_id: str, numbers: Sequence[str]) -> dict[str, dict[str, Any]]:
        items = self._batch_get([recipient_key(job_id, to) for to in numbers])
        return {str(item["to"]): item for item in items}

    def _batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Strongly consistent BatchGetItem in 100s, retrying unprocessed keys with backoff."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            request = {
                self._table_name: {"Keys": keys[start : start + _BATCH_GET_LIMIT], "ConsistentRead": True}
            }
            for attempt in range(_WRITE_ATTEMPTS):
                answer = self.client.batch_get_item(RequestItems=request)
                found.extend(answer["Responses"].get(self._table_name, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                _pause(attempt)
            if request:
                raise RuntimeError(f"DynamoDB left keys unread after {_WRITE_ATTEMPTS} attempts")
        return found

    def job_chunks(self, job_id: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": f"JOB#{job_id}", ":prefix": CHUNK_PREFIX},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**kwargs)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim_chunk(
        self,
        job_id: str,
        chunk: int,
        attempt: str,
        lease_until: int,
        *,
        stop: Mapping[str, str] | None = None,
    ) -> bool:
        """Claim a pending chunk before acting on it; False if it was not pending.

        A claim to stop carries the stop (outcome, code, reason), so whoever finds it abandoned can
        finish it the same way; a claim to send carries none, so an abandoned one may have gone out.
        """
        values: dict[str, Any] = {
            ":claimed": ChunkState.CLAIMED.value,
            ":pending": ChunkState.PENDING.value,
            ":attempt": attempt,
            ":lease": lease_until,
            ":now": now_iso(),
        }
        update = "SET #state = :claimed, attempt = :attempt, lease_until = :lease, claimed_at = :now"
        names = {"#state": "state"}
        if stop is not None:
            update += ", #stop = :stop"
            values[":stop"] = dict(stop)
            names["#stop"] = "stop"
        try:
            self.table.update_item(
                Key=chunk_key(job_id, chunk),
                UpdateExpression=update,
                ConditionExpression="#state = :pending",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def job_stop(self, job_id: str) -> dict[str, str] | None:
        """The job's stop, read after a claim: a chunk claimed once the job stopped must not be sent."""
        item = self.table.get_item(
            Key=job_key(job_id),
            ConsistentRead=True,
            ProjectionExpression="#stop",
            ExpressionAttributeNames={"#stop": "stop"},
        ).get("Item", {})
        stop: dict[str, str] | None = item.get("stop")
        return stop

    def settle_chunk(self, job_id: str, chunk: int, counts: Mapping[RecipientStatus, int]) -> bool:
        """Move a chunk's recipients out of `queued` in the job's counters, exactly once, then mark it done.

        One conditional update of the job item: the chunk joins the job's `settled_chunks` set in the
        same write that moves the counters, so a retried or concurrent settle can never count twice.
        False when the chunk was already counted (by this or another caller): nothing changes.
        """
        additions = {counter(status): amount for status, amount in counts.items() if amount}
        additions[counter(RecipientStatus.QUEUED)] = -sum(counts.values())
        names = {f"#c{i}": name for i, name in enumerate(additions)}
        values: dict[str, Any] = {f":c{i}": amount for i, amount in enumerate(additions.values())}
        adds = ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))
        now = now_iso()
        try:
            self.table.update_item(
                Key=job_key(job_id),
                UpdateExpression=f"ADD {adds}, settled_chunks :chunks SET updated_at = :now",
                ConditionExpression="NOT contains(settled_chunks, :chunk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":chunks": {chunk}, ":chunk": chunk, ":now": now},
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            counted = False
        else:
            counted = True
        self.mark_done(job_id, chunk)
        return counted

    def mark_done(self, job_id: str, chunk: int) -> None:
        """Bookkeeping on the chunk item; what counts is the job's `settled_chunks`."""
        self.table.update_item(
            Key=chunk_key(job_id, chunk),
            UpdateExpression="SET #state = :done, settled_at = :now REMOVE lease_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": ChunkState.DONE.value, ":now": now_iso()},
        )

    # ---- recipients -------------------------------------------------------------------------

    def put_results(self, job_id: str, chunk: int, results: Iterable[RecipientResult]) -> None:
        self.batch_write(self._result_items(job_id, chunk, results))

    def _result_items(
        self, job_id: str, chunk: int, results: Iterable[RecipientResult]
    ) -> Iterator[dict[str, Any]]:
        pk, updated_at, expires = f"JOB#{job_id}", now_iso(), self.expires_at()
        for to, status, api_message_id, error_code, error in results:
            item = {
                "pk": pk,
                "sk": RECIPIENT_PREFIX + to,
                "to": to,
                "status": status.value,
                # What sending decided, kept when reports move `status`: settling counts from it.
                "sent_status": status.value,
                "chunk": chunk,
                "updated_at": updated_at,
                "expires_at": expires,
            }
            if api_message_id is not None:
                item["api_message_id"] = api_message_id
            if error_code is not None:
                item["error_code"] = error_code
            if error is not None:
                item["error"] = error
            yield item

    def get_recipient(self, job_id: str, to: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(
            Key=recipient_key(job_id, to), ConsistentRead=True
        ).get("Item")
        return item

    def move_recipient(
        self, job_id: str, to: str, current: RecipientStatus, new: RecipientStatus, fields: Mapping[str, Any]
    ) -> bool:
        """Move one recipient up the status ladder and the job's counters with it, atomically.

        False when the recipient was not in `current` any more (a concurrent report won).
        """
        if not can_move(current, new):
            raise ValueError(f"{current} -> {new} is not a forward move")
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        assignments = "".join(f", {n} = {v}" for n, v in zip(names, values, strict=True))
        now = now_iso()
        items = [
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": recipient_key(job_id, to),
                    "UpdateExpression": f"SET #status = :new, updated_at = :now{assignments}",
                    "ConditionExpression": "#status = :current",
                    "ExpressionAttributeNames": {"#status": "status", **names},
                    "ExpressionAttributeValues": {
                        ":new": new.value,
                        ":current": current.value,
                        ":now": now,
                        **values,
                    },
                }
            },
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": job_key(job_id),
                    "UpdateExpression": "ADD #old :minus, #new :plus SET updated_at = :now",
                    "ExpressionAttributeNames": {"#old": counter(current), "#new": counter(new)},
                    "ExpressionAttributeValues": {":minus": -1, ":plus": 1, ":now": now},
                }
            },
        ]
        return self._transact(items)

    def annotate_recipient(
        self, job_id: str, to: str, status: RecipientStatus, fields: Mapping[str, Any]
    ) -> None:
        """Record report details without a status move, only while the status is still `status`."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        try:
            self.table.update_item(
                Key=recipient_key(job_id, to),
                UpdateExpression="SET " + ", ".join(f"{n} = {v}" for n, v in zip(names, values, strict=True)),
                ConditionExpression="#status = :status",
                ExpressionAttributeNames={"#status": "status", **names},
                ExpressionAttributeValues={":status": status.value, **values},
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def recipients_page(self, job_id: str, *, status: str | None, limit: int, token: str | None) -> Page:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": f"JOB#{job_id}", ":prefix": RECIPIENT_PREFIX},
        }
        if status:
            kwargs["FilterExpression"] = "#status = :status"
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
            kwargs["ExpressionAttributeValues"][":status"] = status
        if token:
            kwargs["ExclusiveStartKey"] = {"pk": f"JOB#{job_id}", "sk": _decode_token(token, job_id, status)}
        items: list[dict[str, Any]] = []
        # Limit bounds the items DynamoDB *reads*, so asking for what is still missing never skips one.
        for _ in range(50):
            page = self.table.query(Limit=limit - len(items), **kwargs)
            items.extend(page["Items"])
            last = page.get("LastEvaluatedKey")
            if not last or len(items) >= limit:
                break
            kwargs["ExclusiveStartKey"] = last
        next_token = _encode_token(last["sk"], job_id, status) if last else None
        return Page(items, next_token)

    # ---- rejected inputs ----------------------------------------------------------------------

    def put_rejected(self, job_id: str, entries: Sequence[Mapping[str, str]]) -> None:
        """Store a job's rejected inputs (already truncated) in blocks, before the job is visible."""
        expires = self.expires_at()
        self.batch_write(
            {
                "pk": f"JOB#{job_id}",
                "sk": f"{REJECTED_PREFIX}{block:06d}",
                "entries": json.dumps(
                    list(entries[start : start + REJECTED_PER_ITEM]),
                    ensure_ascii=False,
                    separators=(",", ":"),
                ),
                "expires_at": expires,
            }
            for block, start in enumerate(range(0, len(entries), REJECTED_PER_ITEM))
        )

    def rejected_page(self, job_id: str, total: int, *, limit: int, token: str | None) -> Page:
        """`limit` rejected inputs from the position in `token` (the start without one)."""
        start = _decode_offset(token, job_id) if token else 0
        end = min(total, start + limit)
        blocks = range(start // REJECTED_PER_ITEM, (end - 1) // REJECTED_PER_ITEM + 1) if end > start else ()
        keys = [{"pk": f"JOB#{job_id}", "sk": f"{REJECTED_PREFIX}{block:06d}"} for block in blocks]
        found = {item["sk"]: json.loads(item["entries"]) for item in self._batch_get(keys)}
        listed: list[dict[str, Any]] = []
        for key in keys:
            listed.extend(found.get(key["sk"], []))
        first = blocks[0] * REJECTED_PER_ITEM if blocks else start
        items = listed[start - first : end - first]
        return Page(items, _encode_offset(end, job_id) if end < total else None)

    # ---- low level --------------------------------------------------------------------------

    def batch_write(self, items: Iterable[dict[str, Any]]) -> None:
        """BatchWriteItem in 25s, retrying unprocessed items with backoff until all are stored."""
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == _BATCH_WRITE_LIMIT:
                self._write_batch(batch)
                batch = []
        if batch:
            self._write_batch(batch)

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        for attempt in range(_WRITE_ATTEMPTS):
            answer = self.client.batch_write_item(RequestItems={self._table_name: requests})
            requests = answer.get("UnprocessedItems", {}).get(self._table_name, [])
            if not requests:
                return
            _pause(attempt)
        raise RuntimeError(f"DynamoDB left {len(requests)} items unwritten after {_WRITE_ATTEMPTS} attempts")

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """Run a transaction: True on success, False when one of its conditions failed.

        Conflicts with concurrent transactions on the same job item are retried with backoff.
        """
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return True
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons or (
                    not reasons and "ConditionalCheckFailed" in str(error)
                ):
                    return False
            _pause(attempt)
        raise RuntimeError(f"transaction still conflicting after {_WRITE_ATTEMPTS} attempts")


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter


def _encode_token(sort_key: str, job_id: str, status: str | None) -> str:
    """A token is only good for the listing it came from (same job, same status filter)."""
    data = {"sk": sort_key, "job": job_id, "status": status or ""}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_token(token: str, job_id: str, status: str | None) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        sort_key, token_job, token_status = data["sk"], data["job"], data["status"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidPageToken("next_token is not a token this API returned") from error
    if not isinstance(sort_key, str) or not sort_key.startswith(RECIPIENT_PREFIX):
        raise InvalidPageToken("next_token is not a token this API returned")
    if token_job != job_id or token_status != (status or ""):
        raise InvalidPageToken("next_token belongs to another listing: use it with the same job and status")
    return sort_key


def _encode_offset(offset: int, job_id: str) -> str:
    data = {"rejected": offset, "job": job_id}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_offset(token: str, job_id: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, token_job = data["rejected"], data["job"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidPageToken("next_token is not a token this API returned") from error
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidPageToken("next_token is not a token this API returned")
    if token_job != job_id:
        raise InvalidPageToken("next_token belongs to another listing: use it with the same job")
    return offset
