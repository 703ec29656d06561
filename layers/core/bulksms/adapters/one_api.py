"""Clickatell's One API (`POST /v1/message`, JSON, API key in `Authorization`): a Provider.

It shares the container's pool and the attempt-and-retry loop with the legacy adapter; what is
particular to the One API (request body, answer, options it lacks) lives in domain.one_api.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import urllib3

from bulksms.adapters.clickatell import http_pool, post, send_with_retries
from bulksms.domain import one_api
from bulksms.domain.attempts import Verdict
from bulksms.domain.message import Message


class OneApiClient:
    max_numbers_per_request = one_api.MAX_MESSAGES_PER_REQUEST
    opted_out_error = one_api.OPTED_OUT_ERROR

    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        *,
        attempts: int,
        http: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = base_url.rstrip("/") + one_api.PATH
        self._api_key = api_key
        self._attempts = max(1, attempts)
        self._http = http or http_pool()
        self._sleep = sleep

    def refusal(self, message: Message) -> tuple[str, str] | None:
        return one_api.refusal(message)

    def send(self, message: Message, numbers: Sequence[str], client_message_id: str) -> Verdict:
        body = one_api.build_request(message, numbers, client_message_id)
        # The key itself, no scheme word (the reference and every published client do so).
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": self._api_key(),
        }
        return send_with_retries(
            lambda: post(
                self._http,
                self._url,
                body,
                headers,
                numbers,
                lambda status, data: one_api.judge_answer(numbers, status, data),
            ),
            numbers,
            self._attempts,
            self._sleep,
        )
