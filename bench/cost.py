"""Phase 6: the AWS cost of one million recipients, from what the end-to-end run counted.

Inputs, all per recipient, from `bench.e2e` (counted by `bench.stack_probe` in the local stack):
- Lambda invocations of each function (ApiFunction POST, SenderFunction, CountsFunction, and
  CallbackFunction per delivery report), billed at the template's MemorySize on arm64 for a duration
  that is the handler's measured CPU time (`bench.stack_probe`: the invoking thread's, plus the
  sender's worker threads') plus the time it waits on the network as stated below: AWS_CALL_S per AWS
  call it makes, and, for the sender, CLICKATELL_POST_S per sendmsg POST spread over its threads.
  Local wall times are not used: they are mostly moto's and the simulator's work, on the same 2 cores;
- DynamoDB write and read request units, estimated from the size of every item written or read
  (transactions count twice), including the report writes (a refused conditional write is billed too)
  and the counts function's one update per job per batch; stream reads by Lambda are free;
- SQS requests: SendMessageBatch from the API, and the event source's ReceiveMessage (those that
  returned messages; idle polling is a fixed cost, not a per-recipient one) and DeleteMessageBatch;
- API Gateway REST requests: the POST, plus STATUS_GETS_PER_JOB status reads per job (the bench's own
  polling is left out); callbacks arrive on the function URL, which costs nothing beyond Lambda;
- Secrets Manager: GetSecretValue with the 300 s cache, modelled per container (see _secrets_calls).

`PRICES` below is the one price table (us-east-1, list prices as assumed on PRICES_AS_OF, no free
tier). `python -m bench.cost bench/results.json` recomputes the model from a results file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

# ------------------------------------------------------------------------------ the price table
PRICES_AS_OF = "2026-11"
PRICES_REGION = "us-east-1"
PRICES: dict[str, float] = {
    "lambda_arm64_per_gb_second": 0.0000133334,
    "lambda_per_million_requests": 0.20,
    "api_gateway_rest_per_million_requests": 3.50,  # first 333 million a month
    "function_url_per_million_requests": 0.0,  # only the Lambda invocation is billed
    "sqs_standard_per_million_requests": 0.40,  # each 64 KB of payload is one request
    "dynamodb_on_demand_per_million_wru": 0.625,
    "dynamodb_on_demand_per_million_rru": 0.125,
    "secrets_manager_per_10k_api_calls": 0.05,
    # Not in the headline total (see `extras`):
    "cloudwatch_logs_ingestion_per_gb": 0.50,
    "xray_per_million_traces_recorded": 5.00,
    "dynamodb_storage_per_gb_month": 0.25,
    "dynamodb_pitr_per_gb_month": 0.20,
}
# ------------------------------------------------------------------------------ model assumptions
STATUS_GETS_PER_JOB = 1  # a client reads the job's status once when it is told it finished
AWS_CALL_S = 0.006  # one DynamoDB or SQS round trip from Lambda in the same region (single-digit ms)
CLICKATELL_POST_S = 0.5  # one 600-number sendmsg POST answered by Clickatell
SECRET_CACHE_S = 300  # bulksms.runtime.SECRET_MAX_AGE_S
CALLBACK_CONTAINERS = 10  # warm CallbackFunction containers while callbacks arrive (each reads the secret)
BILLING_ROUNDING_S = 0.0005  # Lambda bills each invocation rounded up to the next millisecond
XRAY_SAMPLED = 0.05  # default sampling rule at volume: 1 request/s, then 5 % (Tracing: Active)
LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines of each invocation
DYNAMODB_ITEM_OVERHEAD_BYTES = 100  # per item, for storage
MONTHS_PER_DAY = 12 / 365

PER = 1_000_000


def _function(caller: str) -> str:
    """The function's logical id in a caller name ("ApiFunction:GET", "CountsFunction (reports)")."""
    return caller.split(":", 1)[0].split(" ", 1)[0]


def _sum(table: Mapping[str, float], keep: Callable[[str], bool]) -> float:
    """Sum a probe table ("caller ..." keys) over the callers `keep` accepts."""
    return sum(value for key, value in table.items() if keep(key.split(" ", 1)[0]))


def _is_polling(caller: str) -> bool:
    return caller == "ApiFunction:GET"  # the bench's status polls, modelled separately


def _billed_seconds(window: Mapping[str, Any], caller: str, threads: int) -> float:
    """What Lambda bills one function for in a measured window: its CPU time and its network waits."""
    cpu = float(window.get("cpu_seconds", {}).get(caller, 0.0))
    aws_calls = sum(
        count
        for key, count in window["calls"].items()
        if key.split(" ")[0] == caller and not key.split(" ")[2].endswith(("(non-empty)", "Received", "Sent"))
    )
    waits = aws_calls * AWS_CALL_S
    if _function(caller) == "SenderFunction":
        waits += window.get("sim", {}).get("requests", 0) * CLICKATELL_POST_S / threads
    return cpu + waits


def model(
    e2e: Mapping[str, Any], memory_mb: Mapping[str, int], retention_days: int = 90, threads: int = 8
) -> dict[str, Any]:
    send, callbacks = e2e["send"], e2e["callbacks"]
    recipients, callback_recipients = int(e2e["recipients"]), int(callbacks["recipients"])
    per_send, per_callback_job = PER / recipients, PER / callback_recipients
    jobs = PER / recipients  # jobs of the measured size per million recipients

    def is_callback(caller: str) -> bool:
        # The report path: the callback handler and the counts function summing its changes (the
        # callback job's own send results are counted there too, a small overstatement).
        return _function(caller) in ("CallbackFunction", "CountsFunction")

    def is_send(caller: str) -> bool:
        return not _is_polling(caller) and not is_callback(caller)

    # ---- Lambda
    lambda_rows: dict[str, dict[str, float]] = {}
    for caller, count in send["invocations"].items():
        if is_send(caller):
            lambda_rows[caller] = {
                "invocations": count * per_send,
                "seconds": _billed_seconds(send, caller, threads) * per_send,
            }
    gets, get_seconds = (
        send["invocations"].get("ApiFunction:GET", 0),
        _billed_seconds(send, "ApiFunction:GET", threads),
    )
    get_rru = _sum(send["rru"], lambda c: c == "ApiFunction:GET") / gets if gets else 1.0
    lambda_rows["ApiFunction:GET (status, modelled)"] = {
        "invocations": jobs * STATUS_GETS_PER_JOB,
        "seconds": jobs * STATUS_GETS_PER_JOB * (get_seconds / gets if gets else 0.05),
    }
    callback_invocations = callbacks["invocations"].get("CallbackFunction", 0)
    for caller in ("CallbackFunction", "CountsFunction"):
        lambda_rows[f"{caller} (reports)"] = {
            "invocations": callbacks["invocations"].get(caller, 0) * per_callback_job,
            "seconds": _billed_seconds(callbacks, caller, threads) * per_callback_job,
        }
    gb_seconds = 0.0
    invocations = 0.0
    for caller, row in lambda_rows.items():
        memory_gb = memory_mb[_function(caller)] / 1024
        row["gb_seconds"] = (row["seconds"] + row["invocations"] * BILLING_ROUNDING_S) * memory_gb
        gb_seconds += row["gb_seconds"]
        invocations += row["invocations"]

    # ---- DynamoDB
    wru = _sum(send["wru"], is_send) * per_send + _sum(callbacks["wru"], is_callback) * per_callback_job
    wru += 2 * jobs  # the sparse active-jobs index: the job enters it once and leaves it once
    rru = (
        _sum(send["rru"], is_send) * per_send
        + jobs * STATUS_GETS_PER_JOB * get_rru
        + _sum(callbacks["rru"], is_callback) * per_callback_job
    )

    # ---- SQS
    sqs_ops = (
        "SendMessageBatch",
        "SendMessage",
        "ReceiveMessage(non-empty)",
        "DeleteMessageBatch",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    )
    sqs_requests = (
        sum(
            count
            for key, count in send["calls"].items()
            if key.split(" ")[1] == "sqs" and key.split(" ")[2] in sqs_ops and is_send(key.split(" ")[0])
        )
        * per_send
    )

    # ---- API Gateway (REST) and the function URL
    api_requests = jobs * (1 + STATUS_GETS_PER_JOB)
    function_url_requests = lambda_rows["CallbackFunction (reports)"]["invocations"]

    # ---- Secrets Manager
    secrets_calls = _secrets_calls(lambda_rows, e2e)

    costs = {
        "lambda_compute": gb_seconds * PRICES["lambda_arm64_per_gb_second"],
        "lambda_requests": invocations / PER * PRICES["lambda_per_million_requests"],
        "api_gateway_rest": api_requests / PER * PRICES["api_gateway_rest_per_million_requests"],
        "function_url": function_url_requests / PER * PRICES["function_url_per_million_requests"],
        "sqs": sqs_requests / PER * PRICES["sqs_standard_per_million_requests"],
        "dynamodb_writes": wru / PER * PRICES["dynamodb_on_demand_per_million_wru"],
        "dynamodb_reads": rru / PER * PRICES["dynamodb_on_demand_per_million_rru"],
        "secrets_manager": secrets_calls / 10_000 * PRICES["secrets_manager_per_10k_api_calls"],
    }
    total = sum(costs.values())
    return {
        "prices_as_of": PRICES_AS_OF,
        "region": PRICES_REGION,
        "prices": PRICES,
        "assumptions": {
            "status_gets_per_job": STATUS_GETS_PER_JOB,
            "recipients_per_job": recipients,
            "callback_level": callbacks.get("callback_level"),
            "callbacks_per_recipient": round(callback_invocations / callback_recipients, 3),
            "secret_cache_s": SECRET_CACHE_S,
            "callback_containers": CALLBACK_CONTAINERS,
            "durations": (
                "measured handler CPU time + AWS_CALL_S per AWS call + CLICKATELL_POST_S per POST "
                "/ sender threads"
            ),
            "aws_call_s": AWS_CALL_S,
            "clickatell_post_s": CLICKATELL_POST_S,
        },
        "per_million_recipients": {
            "lambda_invocations": round(invocations, 1),
            "lambda_gb_seconds": round(gb_seconds, 2),
            "lambda_by_function": {
                k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in lambda_rows.items()
            },
            "dynamodb_wru": round(wru, 1),
            "dynamodb_rru": round(rru, 1),
            "sqs_requests": round(sqs_requests, 1),
            "api_gateway_requests": round(api_requests, 1),
            "function_url_requests": round(function_url_requests, 1),
            "secrets_manager_calls": round(secrets_calls, 1),
        },
        "per_recipient": {
            "dynamodb_wru": round(wru / PER, 4),
            "dynamodb_rru": round(rru / PER, 4),
            "sqs_requests": round(sqs_requests / PER, 6),
            "lambda_invocations": round(invocations / PER, 4),
        },
        "cost_usd": {k: round(v, 4) for k, v in costs.items()},
        "cost_per_million_usd": round(total, 4),
        "extras_not_in_total_usd": _extras(e2e, lambda_rows, invocations, retention_days),
    }


def _secrets_calls(lambda_rows: Mapping[str, Mapping[str, float]], e2e: Mapping[str, Any]) -> float:
    """One GetSecretValue per container start and per 300 s a container stays busy.

    Sender: at most one per invocation (each may land on a new container). Callbacks: CALLBACK_CONTAINERS
    starts, then one per 300 s of busy time. The API reads a secret only to sign a status callback.
    """
    sender = lambda_rows.get("SenderFunction", {}).get("invocations", 0.0)
    callback_busy = lambda_rows["CallbackFunction (reports)"]["seconds"]
    return sender + CALLBACK_CONTAINERS + callback_busy / SECRET_CACHE_S


def _extras(
    e2e: Mapping[str, Any],
    lambda_rows: Mapping[str, Mapping[str, float]],
    invocations: float,
    retention_days: int,
) -> dict[str, float]:
    send, callbacks = e2e["send"], e2e["callbacks"]
    recipients, callback_recipients = int(e2e["recipients"]), int(callbacks["recipients"])
    send_log = send.get("log_bytes", 0) / recipients
    callback_log = (
        max(0.0, callbacks.get("log_bytes", 0) - send_log * callback_recipients) / callback_recipients
    )
    log_gb = (PER * (send_log + callback_log) + invocations * LAMBDA_PLATFORM_LOG_BYTES) / 1e9
    recipient_item = send.get("sizes", {}).get("recipient", 200) + DYNAMODB_ITEM_OVERHEAD_BYTES
    storage_gb_months = PER * recipient_item / 1e9 * retention_days * MONTHS_PER_DAY
    callbacks_per_million = lambda_rows["CallbackFunction (reports)"]["invocations"]
    return {
        "cloudwatch_logs_ingestion": round(log_gb * PRICES["cloudwatch_logs_ingestion_per_gb"], 4),
        "xray_traces": round(
            invocations * XRAY_SAMPLED / PER * PRICES["xray_per_million_traces_recorded"], 4
        ),
        "dynamodb_storage_and_pitr_for_retention": round(
            storage_gb_months
            * (PRICES["dynamodb_storage_per_gb_month"] + PRICES["dynamodb_pitr_per_gb_month"]),
            4,
        ),
        "if_callbacks_went_through_the_rest_api": round(
            callbacks_per_million / PER * PRICES["api_gateway_rest_per_million_requests"], 4
        ),
        "log_bytes_per_recipient": round(send_log + callback_log, 1),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.config import template_facts

    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "bench/results.json"
    with open(path) as file:
        results = json.load(file)
    facts = template_facts()
    print(json.dumps(model(results["raw"]["e2e"], facts.memory_mb, threads=facts.sender_threads), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
