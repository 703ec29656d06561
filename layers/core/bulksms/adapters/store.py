"""DynamoDB store: one table holds each job, its chunks and its recipients.

  pk = JOB#<job_id>        sk = JOB              the job: message, status, per-status counters
                           sk = CHUNK#<nnnnnn>   up to a chunk-size of numbers, and the chunk's claim state
  pk = JOB#<job_id>#R<pp>  sk = R#<number>       one recipient's outcome, in one of RECIPIENT_PARTITIONS
                                                 partitions chosen by a hash of the number
                           sk = REJECTED#<nnnnnn> up to 500 rejected inputs, in input order (JSON)

Every job item also carries `kind = job`, the partition key of the `jobs-by-created` index that lists
the deployment's jobs newest first (it projects `status`, so only a status change writes to it).

Recipients are spread over partitions so that neither a job's send results nor its delivery reports
queue behind one partition key's write limit; a report still finds its item from the job id and number
alone. A recipient is written by its send result (or its stop) and then only by conditional updates
that move it up the status ladder. The job's counters are never written per recipient: the counts
aggregator sums the table's stream of recipient changes and applies one update per job per batch
(`apply_counts`); the update that brings `n_queued` to 0 is followed by the job's finish
(`service.lifecycle`, through `finish`).

The services see none of this: the store is their `JobStore` (domain.ports), and maps items to and from
the domain's `Job`, `Chunk` and `Stop`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bulksms.adapters import aws
from bulksms.domain.counts import CountsUpdate, StatusChange
from bulksms.domain.job import UNFINISHED_JOB_STATUSES, Chunk, ChunkState, Counts, Job, Stop
from bulksms.domain.message import Message
from bulksms.domain.ports import Page, ReportWrite
from bulksms.domain.retry import RetryPolicy
from bulksms.domain.schedule import now_iso
from bulksms.domain.status import JobStatus, RecipientStatus, statuses_below

if TYPE_CHECKING:  # annotations only: the API's cold start need not import what sending parses
    from bulksms.domain.attempts import RecipientResult
    from bulksms.domain.reports import DeliveryReport

JOB_SK = "JOB"
CHUNK_PREFIX = "CHUNK#"
RECIPIENT_PREFIX = "R#"
REJECTED_PREFIX = "REJECTED#"
REJECTED_PER_ITEM = 500  # entries of at most ~250 bytes: an item stays far below DynamoDB's 400 KB
# 16 partition keys per job: on-demand DynamoDB gives each about 1,000 writes/s, so one job's results
# and reports can reach ~16,000 writes/s before any partition key throttles.
RECIPIENT_PARTITIONS = 16
ACTIVE_INDEX = "active-jobs"
ACTIVE_FLAG = "1"
JOBS_INDEX = "jobs-by-created"
JOB_KIND = "job"
_BATCH_WRITE_LIMIT = 25
_BATCH_GET_LIMIT = 100
# Not stacked on botocore's retries (aws.py): those cover a throttled or failed call, while the items a
# batch call leaves unprocessed come back in a successful answer, which botocore does not retry.
_UNPROCESSED_RETRY = RetryPolicy(attempts=8, base_s=0.05, cap_s=2.0, budget_s=30.0)
# For the conditions that a job is not finished yet.
_UNFINISHED = {f":u{i}": status.value for i, status in enumerate(sorted(UNFINISHED_JOB_STATUSES))}
_UNFINISHED_IN = f"#status IN ({', '.join(_UNFINISHED)})"
# Job attributes the submission sets and the store keeps as they are (the rest are the store's own).
_JOB_FIELDS = (
    "job_id",
    "created_at",
    "updated_at",
    "finished_at",
    "send_at",
    "client_reference",
    "status_callback_url",
    "rejected_count",
    "duplicates_removed",
    "normalised",
    "suppressed",
)


class InvalidPageToken(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Written:
    """What a conditional write did. `item` is what the request asked back: the new item
    (`ReturnValues`), or the item that failed the condition (`ReturnValuesOnConditionCheckFailure`)."""

    wrote: bool
    item: Mapping[str, Any]


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": JOB_SK}


def chunk_key(job_id: str, chunk: int) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": f"{CHUNK_PREFIX}{chunk:06d}"}


def recipient_partition(to: str) -> int:
    return zlib.crc32(to.encode()) % RECIPIENT_PARTITIONS


def recipient_pk(job_id: str, partition: int) -> str:
    return f"JOB#{job_id}#R{partition:02d}"


def recipient_key(job_id: str, to: str) -> dict[str, str]:
    return {"pk": recipient_pk(job_id, recipient_partition(to)), "sk": f"{RECIPIENT_PREFIX}{to}"}


def job_id_of_recipient_pk(pk: str) -> tuple[str, str]:
    """(job id, partition) of a recipient item's partition key."""
    job, _, partition = pk.removeprefix("JOB#").rpartition("#")
    return job, partition


def counter(status: RecipientStatus) -> str:
    return f"n_{status.value}"


def chunk_numbers(chunk: Mapping[str, Any]) -> list[str]:
    return str(chunk["numbers"]).split(",")


def job_of(item: Mapping[str, Any]) -> Job:
    """The domain job of a job item (as the resource reads it: numbers are Decimals)."""
    stop = item.get("stop")
    return Job(
        job_id=item["job_id"],
        status=JobStatus(item["status"]),
        created_at=item["created_at"],
        message=Message.from_item(item["message"]),
        counts=Counts.of(int(item["total"]), {s: int(item.get(counter(s), 0)) for s in RecipientStatus}),
        chunk_count=int(item["chunk_count"]),
        updated_at=item.get("updated_at"),
        finished_at=item.get("finished_at"),
        stop=_stop_of(stop) if stop else None,
        send_at=item.get("send_at"),
        client_reference=item.get("client_reference"),
        status_callback_url=item.get("status_callback_url"),
        charge_total=Decimal(item.get("charge_total", 0)),
        rejected_count=int(item.get("rejected_count", 0)),
        duplicates_removed=int(item.get("duplicates_removed", 0)),
        normalised=int(item.get("normalised", 0)),
        suppressed=int(item.get("suppressed", 0)),
    )


def chunk_of(job_id: str, item: Mapping[str, Any]) -> Chunk:
    stop = item.get("stop")
    lease = item.get("lease_until")
    return Chunk(
        job_id=job_id,
        index=int(item["chunk"]),
        state=ChunkState(item["state"]),
        numbers=tuple(chunk_numbers(item)),
        lease_until=int(lease) if lease is not None else None,
        stop=_stop_of(stop) if stop else None,
    )


def _stop_of(item: Mapping[str, Any]) -> Stop:
    return Stop(JobStatus(item["outcome"]), str(item["code"]), str(item["reason"]))


def _stop_item(stop: Stop) -> dict[str, str]:
    return {"outcome": stop.outcome.value, "code": stop.code, "reason": stop.reason}


class Store:
    """The DynamoDB `JobStore` (domain.ports): items to and from the domain's Job and Chunk."""

    def __init__(self, table_name: str, retention_days: int, resource: Any = None) -> None:
        self._retention_s = retention_days * 86_400
        self._resource = resource
        self._table = aws.LazyTable(table_name, resource)
        self._typed_client: Any = None

    @property
    def table(self) -> Any:
        return self._table()

    @property
    def client(self) -> Any:
        return (self._resource or aws.dynamodb()).meta.client

    def expires_at(self) -> int:
        return int(time.time()) + self._retention_s

    # ---- jobs -------------------------------------------------------------------------------

    def create_job(self, job: Job, chunks: Sequence[Sequence[str]]) -> None:
        """Chunks first, then the job: a job that is visible always has all its chunks.

        A `scheduled` job is not `active` until it starts: the sweeper must not queue its chunks.
        """
        job_id = job.job_id
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
        fields = {name: getattr(job, name) for name in _JOB_FIELDS}
        item = {
            **{name: value for name, value in fields.items() if value is not None},
            "message": job.message.to_item(),
            **job_key(job_id),
            "kind": JOB_KIND,
            "status": job.status.value,
            "total": total,
            "chunk_count": len(chunks),
            "expires_at": expires,
            counter(RecipientStatus.QUEUED): total,
            "charge_total": Decimal(0),
            # Per recipient partition, the last stream sequence the counts include (see apply_counts).
            "applied": {},
        }
        if job.status is not JobStatus.SCHEDULED:
            item["active"] = ACTIVE_FLAG
        item.update({counter(s): 0 for s in RecipientStatus if s is not RecipientStatus.QUEUED})
        self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get_job(self, job_id: str) -> Job | None:
        item = self.table.get_item(Key=job_key(job_id), ConsistentRead=True).get("Item")
        return job_of(item) if item else None

    def mark_sending(self, job_id: str) -> None:
        self._update(
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

    def start_scheduled(self, job_id: str) -> bool:
        """`scheduled` -> `queued` (and active, for the sweeper), once; False if not scheduled or stopped."""
        return self._update(
            Key=job_key(job_id),
            UpdateExpression="SET #status = :queued, active = :one, updated_at = :now",
            ConditionExpression="#status = :scheduled AND attribute_not_exists(#stop)",
            ExpressionAttributeNames={"#status": "status", "#stop": "stop"},
            ExpressionAttributeValues={
                ":queued": JobStatus.QUEUED.value,
                ":scheduled": JobStatus.SCHEDULED.value,
                ":one": ACTIVE_FLAG,
                ":now": now_iso(),
            },
        ).wrote

    def request_stop(self, job_id: str, stop: Stop) -> bool:
        """Record that the rest of a job must not be sent. False if it was already stopped or finished.

        A stopped job is `active` from then on, also one that was still scheduled, so the sweeper
        settles whatever pending chunk no queue message brings to a sender.
        """
        return self._update(
            Key=job_key(job_id),
            UpdateExpression="SET #stop = :stop, updated_at = :now, active = :one",
            ConditionExpression=f"attribute_exists(pk) AND attribute_not_exists(#stop) AND {_UNFINISHED_IN}",
            ExpressionAttributeNames={"#stop": "stop", "#status": "status"},
            ExpressionAttributeValues={
                ":stop": {**_stop_item(stop), "at": now_iso()},
                ":one": ACTIVE_FLAG,
                **_UNFINISHED,
                ":now": now_iso(),
            },
        ).wrote

    def finish(self, job: Job, final: JobStatus) -> Job | None:
        """Move the job to `final` if it is unfinished, nothing is queued and its stop is unchanged.

        Returns the finished job to the one caller that made the move, else None.
        """
        condition = f"#queued = :zero AND {_UNFINISHED_IN} AND " + (
            "#stop.outcome = :outcome" if job.stop else "attribute_not_exists(#stop)"
        )
        values: dict[str, Any] = {":final": final.value, ":zero": 0, **_UNFINISHED, ":now": now_iso()}
        if job.stop:
            values[":outcome"] = job.stop.outcome.value
        if not self._update(
            Key=job_key(job.job_id),
            UpdateExpression="SET #status = :final, updated_at = :now, finished_at = :now REMOVE active",
            ConditionExpression=condition,
            ExpressionAttributeNames={
                "#status": "status",
                "#queued": counter(RecipientStatus.QUEUED),
                "#stop": "stop",
            },
            ExpressionAttributeValues=values,
        ).wrote:
            return None
        return replace(job, status=final, finished_at=values[":now"])

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

    def jobs_page(self, *, status: str | None, limit: int, token: str | None) -> Page[Job]:
        """The deployment's jobs, newest first, a page at a time (filtered pages may hold fewer)."""
        kwargs: dict[str, Any] = {
            "IndexName": JOBS_INDEX,
            "KeyConditionExpression": "kind = :kind",
            "ExpressionAttributeValues": {":kind": JOB_KIND},
            "ScanIndexForward": False,
        }
        if status:
            kwargs["FilterExpression"] = "#status = :status"
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
            kwargs["ExpressionAttributeValues"][":status"] = status
        if token:
            kwargs["ExclusiveStartKey"] = _decode_jobs_token(token, status)
        keys: list[dict[str, str]] = []
        last = None
        for _ in range(50):
            page = self.table.query(Limit=limit - len(keys), **kwargs)
            keys.extend({"pk": item["pk"], "sk": item["sk"]} for item in page["Items"])
            last = page.get("LastEvaluatedKey")
            if not last or len(keys) >= limit:
                break
            kwargs["ExclusiveStartKey"] = last
        # The index is eventually consistent and holds only keys and status: the views come from the
        # table itself, in the index's order.
        found = {item["pk"]: item for item in self._batch_get(keys)}
        jobs = [job_of(found[key["pk"]]) for key in keys if key["pk"] in found]
        return Page(jobs, _encode_jobs_token(last, status) if last else None)

    # ---- chunks -----------------------------------------------------------------------------

    def load_chunks(self, job_id: str, chunks: Sequence[int]) -> dict[int, Chunk]:
        items = self._batch_get([chunk_key(job_id, index) for index in chunks])
        return {int(item["chunk"]): chunk_of(job_id, item) for item in items}

    def numbers_with_results(self, job_id: str, numbers: Sequence[str]) -> set[str]:
        items = self._batch_get([recipient_key(job_id, to) for to in numbers], projection="sk")
        return {str(item["sk"]).removeprefix(RECIPIENT_PREFIX) for item in items}

    def _batch_get(self, keys: list[dict[str, str]], projection: str | None = None) -> list[dict[str, Any]]:
        """Strongly consistent BatchGetItem in 100s."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            wanted: dict[str, Any] = {"Keys": keys[start : start + _BATCH_GET_LIMIT], "ConsistentRead": True}
            if projection:
                wanted["ProjectionExpression"] = projection
            found.extend(batch_get(self.client, self._table.name, wanted))
        return found

    def job_chunks(self, job_id: str) -> Iterator[Chunk]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": f"JOB#{job_id}", ":prefix": CHUNK_PREFIX},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**kwargs)
            yield from (chunk_of(job_id, item) for item in page["Items"])
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
        stop: Stop | None = None,
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
            values[":stop"] = _stop_item(stop)
            names["#stop"] = "stop"
        return self._update(
            Key=chunk_key(job_id, chunk),
            UpdateExpression=update,
            ConditionExpression="#state = :pending",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        ).wrote

    def job_stop(self, job_id: str) -> Stop | None:
        """The job's stop, read after a claim: a chunk claimed once the job stopped must not be sent."""
        item = self.table.get_item(
            Key=job_key(job_id),
            ConsistentRead=True,
            ProjectionExpression="#stop",
            ExpressionAttributeNames={"#stop": "stop"},
        ).get("Item", {})
        stop = item.get("stop")
        return _stop_of(stop) if stop else None

    def mark_done(self, job_id: str, chunk: int) -> None:
        """The chunk is finished: every number has its stored result, so nobody acts on it again."""
        self.table.update_item(
            Key=chunk_key(job_id, chunk),
            UpdateExpression="SET #state = :done, settled_at = :now REMOVE lease_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": ChunkState.DONE.value, ":now": now_iso()},
        )

    # ---- recipients -------------------------------------------------------------------------

    def put_results(self, job_id: str, chunk: int, results: Iterable[RecipientResult]) -> None:
        """Store every number's send result, one recipient item each.

        The items are built typed and go through the low-level client: the resource's client runs every
        value through its TypeSerializer and then walks the request again, which cost the send path
        more client CPU per number than the whole POST and its parsing (bench phase 1). The items are
        the ones the resource would write, so every reader sees the same attributes and types.
        """
        self.batch_write(self._result_items(job_id, chunk, results), typed=True)

    def _result_items(
        self, job_id: str, chunk: int, results: Iterable[RecipientResult]
    ) -> Iterator[dict[str, Any]]:
        pks = [{"S": recipient_pk(job_id, partition)} for partition in range(RECIPIENT_PARTITIONS)]
        shared = {
            "chunk": {"N": str(chunk)},
            "updated_at": {"S": now_iso()},
            "expires_at": {"N": str(self.expires_at())},
        }
        for to, status, api_message_id, error_code, error in results:
            item = {
                "pk": pks[recipient_partition(to)],
                "sk": {"S": RECIPIENT_PREFIX + to},
                "to": {"S": to},
                "status": {"S": status.value},
                **shared,
            }
            if api_message_id is not None:
                item["api_message_id"] = {"S": api_message_id}
            if error_code is not None:
                item["error_code"] = {"S": error_code}
            if error is not None:
                item["error"] = {"S": error}
            yield item

    def get_recipient(self, job_id: str, to: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(
            Key=recipient_key(job_id, to), ConsistentRead=True
        ).get("Item")
        return item

    def apply_report(self, job_id: str, report: DeliveryReport, new: RecipientStatus) -> ReportWrite:
        """One conditional write, no read before it: move the recipient up to `new` and record the report.

        The condition holds only while the recipient is below `new` on the ladder and carries no other
        message id, so a repeated, stale or foreign report changes nothing. Every value is a string,
        sent typed through the low-level client (as `put_results` does): this is the write of every
        report, and the resource's serialiser added a quarter to the call's client CPU (about 430
        against 345 us, with botocore answered at before-send).
        """
        fields = report.fields()
        names = {"#status": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = {":new": new.value, ":now": now_iso(), ":id": report.api_message_id}
        values.update({f":f{i}": value for i, value in enumerate(fields.values())})
        below = statuses_below(new)
        values.update({f":b{i}": status.value for i, status in enumerate(below)})
        assignments = "".join(f", #f{i} = :f{i}" for i in range(len(fields)))
        written = self._update(
            typed=True,
            Key={name: {"S": value} for name, value in recipient_key(job_id, report.to).items()},
            UpdateExpression=f"SET #status = :new, updated_at = :now{assignments}",
            ConditionExpression=(
                f"#status IN ({', '.join(f':b{i}' for i in range(len(below)))}) AND "
                "(attribute_not_exists(api_message_id) OR api_message_id = :id)"
            ),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={name: {"S": value} for name, value in values.items()},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        if written.wrote:
            return ReportWrite.APPLIED
        # The failed condition's answer carries the item as it is (typed: no client parses an
        # error's item): no extra read.
        if not written.item:
            return ReportWrite.NO_RECIPIENT
        known_id = written.item.get("api_message_id", {}).get("S")
        if known_id and known_id != report.api_message_id:
            return ReportWrite.OTHER_MESSAGE
        return ReportWrite.UNCHANGED

    def recipients_page(
        self, job_id: str, *, status: str | None, limit: int, token: str | None
    ) -> Page[dict[str, Any]]:
        """A page of a job's recipients: partition by partition, each in number order."""
        partition, start = _decode_token(token, job_id, status) if token else (0, None)
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":prefix": RECIPIENT_PREFIX},
        }
        if status:
            kwargs["FilterExpression"] = "#status = :status"
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
            kwargs["ExpressionAttributeValues"][":status"] = status
        items: list[dict[str, Any]] = []
        # Limit bounds the items DynamoDB *reads*, so asking for what is still missing never skips one;
        # the query count is bounded too, so a sparse filter answers a short page with a token.
        for _ in range(50):
            pk = recipient_pk(job_id, partition)
            kwargs["ExpressionAttributeValues"][":pk"] = pk
            if start:
                kwargs["ExclusiveStartKey"] = {"pk": pk, "sk": start}
            else:
                kwargs.pop("ExclusiveStartKey", None)
            page = self.table.query(Limit=limit - len(items), **kwargs)
            items.extend(page["Items"])
            last = page.get("LastEvaluatedKey")
            if last:
                start = last["sk"]
            else:
                partition, start = partition + 1, None
            if partition == RECIPIENT_PARTITIONS or len(items) >= limit:
                break
        if partition == RECIPIENT_PARTITIONS:
            return Page(items, None)
        return Page(items, _encode_token(partition, start, job_id, status))

    # ---- counts -----------------------------------------------------------------------------

    def applied_sequences(self, job_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per job, the last stream sequence its counts include, per recipient partition.

        Jobs that no longer exist are left out: their changes have nothing to be applied to.
        """
        keys = [job_key(job_id) for job_id in job_ids]
        items = self._batch_get(keys, projection="pk, applied")
        return {
            item["pk"].removeprefix("JOB#"): {p: int(seq) for p, seq in item.get("applied", {}).items()}
            for item in items
        }

    def apply_counts(self, update: CountsUpdate, expected: Mapping[str, int]) -> Job | None:
        """Add one batch's moves to a job's counters, guarded by the sequences the job has applied.

        `expected` is what `applied_sequences` read for the partitions the update covers; the write
        only happens if they are unchanged, so two deliveries of one batch cannot both count. Returns
        the job after the update, or None when the guard failed (another delivery applied it first).
        """
        names: dict[str, str] = {"#applied": "applied", "#charge": "charge_total"}
        values: dict[str, Any] = {":now": now_iso(), ":charge": update.charge}
        adds = ["#charge :charge"]
        for i, (status, amount) in enumerate(sorted(update.moves.items())):
            if amount:
                names[f"#c{i}"], values[f":c{i}"] = counter(status), amount
                adds.append(f"#c{i} :c{i}")
        sets, conditions = ["updated_at = :now"], ["attribute_exists(pk)"]
        for i, (partition, sequence) in enumerate(sorted(update.applied.items())):
            names[f"#p{i}"], values[f":s{i}"] = partition, sequence
            sets.append(f"#applied.#p{i} = :s{i}")
            if partition in expected:
                values[f":e{i}"] = expected[partition]
                conditions.append(f"#applied.#p{i} = :e{i}")
            else:
                conditions.append(f"attribute_not_exists(#applied.#p{i})")
        written = self._update(
            Key=job_key(update.job_id),
            UpdateExpression=f"ADD {', '.join(adds)} SET {', '.join(sets)}",
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return job_of(written.item) if written.wrote else None

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

    def rejected_page(
        self, job_id: str, total: int, *, limit: int, token: str | None
    ) -> Page[dict[str, Any]]:
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

    def _update(self, *, typed: bool = False, **request: Any) -> Written:
        """The one conditional UpdateItem; `wrote` is False when its condition did not hold. A `typed`
        request's key and values are DynamoDB attribute values, sent through the low-level client."""
        try:
            if typed:
                answer = self.typed_client.update_item(TableName=self._table.name, **request)
            else:
                answer = self.table.update_item(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return Written(False, error.response.get("Item") or {})
        return Written(True, answer.get("Attributes") or {})

    @property
    def typed_client(self) -> Any:
        """A low-level client for the same DynamoDB as `table`: it sends typed items as they are."""
        if self._resource is None:
            return aws.dynamodb_client()
        if self._typed_client is None:
            self._typed_client = aws.low_level_twin(self._resource)
        return self._typed_client

    def batch_write(self, items: Iterable[dict[str, Any]], *, typed: bool = False) -> None:
        """BatchWriteItem in 25s, retrying unprocessed items with backoff until all are stored.

        `typed` items are already DynamoDB attribute values ({"S": ...}) and go through the low-level
        client; plain ones through the resource's, which serialises them.
        """
        client = self.typed_client if typed else self.client
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == _BATCH_WRITE_LIMIT:
                self._write_batch(client, batch)
                batch = []
        if batch:
            self._write_batch(client, batch)

    def _write_batch(self, client: Any, requests: list[dict[str, Any]]) -> None:
        for _ in _UNPROCESSED_RETRY.tries(time.monotonic, time.sleep):
            answer = client.batch_write_item(RequestItems={self._table.name: requests})
            requests = answer.get("UnprocessedItems", {}).get(self._table.name, [])
            if not requests:
                return
        raise RuntimeError(f"DynamoDB left {len(requests)} items unwritten after every retry")


def batch_get(client: Any, table_name: str, wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """One BatchGetItem (at most 100 keys), retrying the keys DynamoDB leaves unprocessed."""
    found: list[dict[str, Any]] = []
    request = {table_name: wanted}
    for _ in _UNPROCESSED_RETRY.tries(time.monotonic, time.sleep):
        answer = client.batch_get_item(RequestItems=request)
        found.extend(answer["Responses"].get(table_name, []))
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise RuntimeError("DynamoDB left keys unread after every retry")


def _encode_jobs_token(key: Mapping[str, Any], status: str | None) -> str:
    data = {"pk": key["pk"], "created_at": key["created_at"], "status": status or ""}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_jobs_token(token: str, status: str | None) -> dict[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        pk, created_at, token_status = data["pk"], data["created_at"], data["status"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidPageToken("next_token is not a token this API returned") from error
    if not (isinstance(pk, str) and pk.startswith("JOB#") and isinstance(created_at, str)):
        raise InvalidPageToken("next_token is not a token this API returned")
    if token_status != (status or ""):
        raise InvalidPageToken("next_token belongs to another listing: use it with the same status")
    return {"pk": pk, "sk": JOB_SK, "kind": JOB_KIND, "created_at": created_at}


def _encode_token(partition: int, sort_key: str | None, job_id: str, status: str | None) -> str:
    """A token is only good for the listing it came from (same job, same status filter)."""
    data = {"p": partition, "sk": sort_key, "job": job_id, "status": status or ""}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_token(token: str, job_id: str, status: str | None) -> tuple[int, str | None]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        partition, sort_key = data["p"], data["sk"]
        token_job, token_status = data["job"], data["status"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidPageToken("next_token is not a token this API returned") from error
    valid_key = sort_key is None or (isinstance(sort_key, str) and sort_key.startswith(RECIPIENT_PREFIX))
    if type(partition) is not int or not 0 <= partition < RECIPIENT_PARTITIONS or not valid_key:
        raise InvalidPageToken("next_token is not a token this API returned")
    if token_job != job_id or token_status != (status or ""):
        raise InvalidPageToken("next_token belongs to another listing: use it with the same job and status")
    return partition, sort_key


def status_change(record: Mapping[str, Any]) -> StatusChange | None:
    """The recipient status change a DynamoDB stream record carries (NEW_AND_OLD_IMAGES); None for a
    record of any other item, and for removals (TTL expiry takes the job's items together)."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    data = record["dynamodb"]
    if not data["Keys"]["sk"]["S"].startswith(RECIPIENT_PREFIX):
        return None
    job_id, partition = job_id_of_recipient_pk(data["Keys"]["pk"]["S"])
    new_image, old_image = data["NewImage"], data.get("OldImage")
    return StatusChange(
        job_id=job_id,
        partition=partition,
        sequence=int(data["SequenceNumber"]),
        old=RecipientStatus(old_image["status"]["S"]) if old_image else None,
        new=RecipientStatus(new_image["status"]["S"]),
        charge=_charge(new_image) - _charge(old_image),
    )


def _charge(image: Mapping[str, Any] | None) -> Decimal:
    value = (image or {}).get("charge", {}).get("S")
    return Decimal(value) if value else Decimal(0)


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
