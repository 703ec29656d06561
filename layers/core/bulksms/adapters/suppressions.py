"""The suppression list in the table: one item per number, spread over a few partitions.

  pk = SUPPRESSION#<shard 00..15>   sk = <number>   reason, source, created_at, updated_at

Numbers are spread by a stable hash so neither the reads of a 100,000-number submission (a Query per
shard, or BatchGetItem by number) nor a bulk add land on one partition; a listing walks the shards
in order. Entries have no TTL: an opt-out is kept until it is lifted.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

from botocore.exceptions import ClientError

from bulksms.adapters import aws
from bulksms.adapters.pages import decode_token, encode_token
from bulksms.adapters.store import InvalidPageToken, batch_get
from bulksms.domain.ports import SUPPRESSION_READ_BATCH, SUPPRESSION_SHARDS, Entry, Page
from bulksms.domain.schedule import now_iso

PREFIX = "SUPPRESSION#"
_LISTING = "suppressions"


def shard_key(number: str) -> str:
    return f"{PREFIX}{zlib.crc32(number.encode()) % SUPPRESSION_SHARDS:02d}"


def key(number: str) -> dict[str, str]:
    return {"pk": shard_key(number), "sk": number}


class SuppressionTable:
    """The `SuppressionStore` (domain/ports.py) in the table."""

    def __init__(self, table_name: str, resource: Any = None, client: Any = None) -> None:
        self._table = aws.LazyTable(table_name, resource)
        self._client = client

    @property
    def table(self) -> Any:
        return self._table()

    @property
    def client(self) -> Any:
        """A plain client: the batched reads send typed keys, so boto3's (de)serialiser stays out."""
        return self._client or aws.dynamodb_client()

    def get(self, number: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(Key=key(number), ConsistentRead=True).get("Item")
        return item

    def put(self, entry: Entry) -> dict[str, Any]:
        """Add or update an entry; `created_at` stays the first time the number was added."""
        item: dict[str, Any] = self._update(entry)["Attributes"]
        return item

    def add_if_absent(self, entry: Entry) -> bool:
        """Add an entry unless the number is already listed (its reason and source then stay)."""
        try:
            self._update(entry, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _update(self, entry: Entry, **condition: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.table.update_item(
            Key=key(entry.number),
            UpdateExpression=(
                "SET #number = :number, reason = :reason, #source = :source, updated_at = :now, "
                "created_at = if_not_exists(created_at, :now)"
            ),
            ExpressionAttributeNames={"#number": "number", "#source": "source"},
            ExpressionAttributeValues={
                ":number": entry.number,
                ":reason": entry.reason,
                ":source": entry.source,
                ":now": now_iso(),
            },
            ReturnValues="ALL_NEW",
            **condition,
        )
        return answer

    def put_many(self, entries: Iterable[Entry]) -> None:
        """Bulk add (BatchWriteItem; an existing entry is replaced)."""
        now = now_iso()
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for entry in entries:
                batch.put_item(
                    Item={
                        **key(entry.number),
                        "number": entry.number,
                        "reason": entry.reason,
                        "source": entry.source,
                        "created_at": now,
                        "updated_at": now,
                    }
                )

    def delete(self, number: str, *, only_source: str | None = None) -> dict[str, Any] | None:
        """Remove an entry (with `only_source`, only one that source made) and return it; None if
        nothing was removed."""
        condition = "attribute_exists(pk)" + (" AND #source = :source" if only_source else "")
        kwargs: dict[str, Any] = {
            "Key": key(number),
            "ConditionExpression": condition,
            "ReturnValues": "ALL_OLD",
        }
        if only_source:
            kwargs["ExpressionAttributeNames"] = {"#source": "source"}
            kwargs["ExpressionAttributeValues"] = {":source": only_source}
        try:
            answer = self.table.delete_item(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        item: dict[str, Any] = answer["Attributes"]
        return item

    def page(self, *, limit: int, token: str | None) -> Page[dict[str, Any]]:
        """Entries shard by shard, in number order within a shard. A page may hold fewer than `limit`
        (even none) while `next_token` is set."""
        shard, after = 0, ""
        if token:
            position = decode_token(token, _LISTING, "shard", "after")
            shard, after = position["shard"], position["after"]
            if (
                not isinstance(shard, int)
                or not 0 <= shard < SUPPRESSION_SHARDS
                or not isinstance(after, str)
            ):
                raise InvalidPageToken("next_token is not a token this listing returned")
        items: list[dict[str, Any]] = []
        while shard < SUPPRESSION_SHARDS and len(items) < limit:
            pk = f"{PREFIX}{shard:02d}"
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": pk},
                "Limit": limit - len(items),
            }
            if after:
                kwargs["ExclusiveStartKey"] = {"pk": pk, "sk": after}
            answer = self.table.query(**kwargs)
            items.extend(answer["Items"])
            if last := answer.get("LastEvaluatedKey"):
                after = str(last["sk"])
            else:
                shard, after = shard + 1, ""
        if shard >= SUPPRESSION_SHARDS:
            return Page(items, None)
        return Page(items, encode_token(_LISTING, {"shard": shard, "after": after}))

    def listed(self, numbers: Sequence[str], executor: Executor | None = None) -> set[str]:
        """Which of `numbers` are listed: strongly consistent BatchGetItem of 100 keys at a time (one
        read unit each), the batches spread over `executor`'s threads (botocore clients are thread-safe)."""
        mapped: Callable[..., Iterable[Any]] = executor.map if executor else map
        step = SUPPRESSION_READ_BATCH
        batches = [numbers[i : i + step] for i in range(0, len(numbers), step)]
        found: set[str] = set()
        for batch in mapped(self._read_batch, batches):
            found.update(batch)
        return found

    def read_shard(self, shard: int, budget: int) -> list[str] | None:
        """Every number of one shard, strongly consistent (Query, 1 MB pages), or None once it holds
        more than `budget`.

        The projection to `sk` shrinks the answer, not the bill: a Query's read units count whole items
        (names and values of every attribute). An API entry of an 11-digit number is about 150 bytes
        (pk 16, sk 13, number 17, reason 27, source 9, created_at and updated_at 34 each), so a strongly
        consistent 4 KB read unit covers about 27 entries (a provider entry, reason ~41 characters, ~23).
        """
        kwargs: dict[str, Any] = {
            "TableName": self._table.name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"{PREFIX}{shard:02d}"}},
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
        }
        found: list[str] = []
        while True:
            answer = self.client.query(**kwargs)
            found.extend(item["sk"]["S"] for item in answer["Items"])
            if len(found) > budget:
                return None
            if "LastEvaluatedKey" not in answer:
                return found
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _read_batch(self, numbers: Sequence[str]) -> list[str]:
        keys = [{"pk": {"S": shard_key(n)}, "sk": {"S": n}} for n in numbers]
        wanted = {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": "sk"}
        return [item["sk"]["S"] for item in batch_get(self.client, self._table.name, wanted)]
