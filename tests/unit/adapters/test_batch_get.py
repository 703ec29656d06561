"""BatchGetItem's unprocessed keys (a successful answer botocore does not retry): asked again, with
the one retry policy for them, until every key is read or the policy gives up."""

from __future__ import annotations

from typing import Any

import pytest
from bulksms.adapters import store
from bulksms.adapters.store import batch_get


class _Leaving:
    """A DynamoDB client that leaves the first `left` keys unprocessed, `times` times."""

    def __init__(self, items: dict[str, dict[str, Any]], left: int, times: int) -> None:
        self.items, self.left, self.times = items, left, times
        self.requests: list[list[str]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (wanted,) = RequestItems.values()
        names = [key["sk"]["S"] for key in wanted["Keys"]]
        self.requests.append(names)
        unread, read = (names[: self.left], names[self.left :]) if self.times else ([], names)
        self.times -= 1 if self.times else 0
        answer: dict[str, Any] = {"Responses": {"t": [self.items[name] for name in read]}}
        if unread:
            answer["UnprocessedKeys"] = {"t": {**wanted, "Keys": [{"sk": {"S": n}} for n in unread]}}
        return answer


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.time, "sleep", lambda seconds: None)


def test_unprocessed_keys_are_asked_again_until_all_are_read() -> None:
    items = {n: {"sk": {"S": n}} for n in ("a", "b", "c")}
    client = _Leaving(items, left=2, times=2)
    found = batch_get(client, "t", {"Keys": [{"sk": {"S": n}} for n in items], "ConsistentRead": True})
    assert sorted(item["sk"]["S"] for item in found) == ["a", "b", "c"]
    assert client.requests == [["a", "b", "c"], ["a", "b"], ["a", "b"]]


def test_keys_still_unread_after_every_retry_raise() -> None:
    client = _Leaving({"a": {"sk": {"S": "a"}}}, left=1, times=1_000)
    with pytest.raises(RuntimeError, match="unread after every retry"):
        batch_get(client, "t", {"Keys": [{"sk": {"S": "a"}}]})
    assert len(client.requests) == store._UNPROCESSED_RETRY.attempts
