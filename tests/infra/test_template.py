"""template.yaml holds the properties the design relies on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.template import LocalTemplate, load_template

ROOT = Path(__file__).resolve().parents[2]

# design.md, "Public HTTP contract (v1)": every route but the callback, which has its own URL.
CONTRACT_ROUTES = {
    ("POST", "/v1/messages"),
    ("GET", "/v1/messages"),
    ("GET", "/v1/messages/{job_id}"),
    ("GET", "/v1/messages/{job_id}/recipients"),
    ("GET", "/v1/messages/{job_id}/rejected"),
    ("DELETE", "/v1/messages/{job_id}"),
    ("PUT", "/v1/suppressions/{number}"),
    ("GET", "/v1/suppressions/{number}"),
    ("DELETE", "/v1/suppressions/{number}"),
    ("GET", "/v1/suppressions"),
    ("POST", "/v1/suppressions"),
    ("GET", "/v1/inbound"),
}
CALLBACK_PATH = "/v1/callbacks/clickatell"
INBOUND_PATH = "/v1/inbound/clickatell"
FUNCTIONS = {
    "ApiFunction", "SenderFunction", "CallbackFunction", "InboundFunction", "SweeperFunction",
    "CountsFunction", "StatusCallbackFunction",
}  # fmt: skip

# SAM policy templates whose expansion names exact actions on the resource it is given.
SCOPED_POLICY_TEMPLATES = {"AWSSecretsManagerGetSecretValuePolicy"}


@pytest.fixture(scope="module")
def tpl() -> LocalTemplate:
    return load_template(ROOT / "template.yaml")


def _props(tpl: LocalTemplate, logical_id: str) -> dict[str, Any]:
    return tpl.resources[logical_id]["Properties"]


def _policies(tpl: LocalTemplate, logical_id: str) -> list[Any]:
    """A function's policies as deployed with the template's parameters: a conditional one (`Fn::If`,
    the other branch AWS::NoValue) counts when its condition holds."""
    policies = []
    for policy in _props(tpl, logical_id).get("Policies", []):
        if isinstance(policy, dict) and "Fn::If" in policy:
            condition, granted, otherwise = policy["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}, (logical_id, policy)
            if tpl.condition(condition):
                policies.append(granted)
        else:
            policies.append(policy)
    return policies


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def test_functions_are_the_expected_ones(tpl: LocalTemplate) -> None:
    assert set(tpl.resources_of_type("AWS::Serverless::Function")) == FUNCTIONS


def test_runtime_architecture_and_layer(tpl: LocalTemplate) -> None:
    layer_dir = ROOT / "layers" / "core"
    for fn in tpl.functions():
        major, minor = fn.runtime.removeprefix("python").split(".")
        assert fn.runtime.startswith("python") and (int(major), int(minor)) >= (3, 12), fn.logical_id
        assert fn.layer_dirs == (layer_dir,), fn.logical_id
        assert (fn.handler_module, fn.handler_attr) == ("app", "lambda_handler")
    function_globals = tpl.document["Globals"]["Function"]
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    for lid in FUNCTIONS:
        assert "Architectures" not in _props(tpl, lid), "arm64 comes from Globals"
    layer = tpl.resources["CoreLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/core"
    assert "arm64" in layer["Properties"]["CompatibleArchitectures"]
    assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}


def test_memory_and_timeouts(tpl: LocalTemplate) -> None:
    sizes = {fn.logical_id: (fn.memory_mb, fn.timeout_s) for fn in tpl.functions()}
    assert sizes == {
        "ApiFunction": (1024, 29),
        "SenderFunction": (512, 120),
        "CallbackFunction": (256, 10),
        "InboundFunction": (256, 10),
        "SweeperFunction": (256, 120),
        "StatusCallbackFunction": (256, 15),
        "CountsFunction": (256, 60),
    }


def test_sender_event_source(tpl: LocalTemplate) -> None:
    (trigger,) = tpl.function("SenderFunction").sqs_triggers
    assert trigger.queue == "SendQueue"
    assert trigger.reports_batch_item_failures
    event = _props(tpl, "SenderFunction")["Events"][trigger.event_id]["Properties"]
    assert event["BatchSize"] == {"Ref": "SenderBatchSize"}
    assert event["MaximumBatchingWindowInSeconds"] == {"Ref": "SenderBatchingWindowSeconds"}
    assert event["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SenderMaxConcurrency"}
    assert int(tpl.document["Parameters"]["SenderMaxConcurrency"]["MinValue"]) >= 2  # the AWS minimum


def test_queue_visibility_covers_six_sender_timeouts(tpl: LocalTemplate) -> None:
    sender = tpl.function("SenderFunction")
    visibility = int(_props(tpl, "SendQueue")["VisibilityTimeout"])
    assert visibility >= 6 * sender.timeout_s


def test_chunk_lease_outlasts_a_sender_invocation(tpl: LocalTemplate) -> None:
    sender = tpl.function("SenderFunction")
    assert int(sender.environment["CHUNK_LEASE_SECONDS"]) == sender.timeout_s + 60


@pytest.mark.parametrize(
    ("queue", "dlq", "alarm", "receives"),
    [
        ("SendQueue", "SendDeadLetterQueue", "DeadLetterAlarm", {"Ref": "MaxReceiveCount"}),
        ("WebhookQueue", "WebhookDeadLetterQueue", "WebhookDeadLetterAlarm", 8),
    ],
)
def test_redrive_to_dead_letter_queue_with_alarm(
    tpl: LocalTemplate, queue: str, dlq: str, alarm: str, receives: Any
) -> None:
    policy = _props(tpl, queue)["RedrivePolicy"]
    assert policy["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq, "Arn"]}
    assert policy["maxReceiveCount"] == receives
    dead = _props(tpl, dlq)
    assert dead["MessageRetentionPeriod"] == 1209600
    assert dead["MessageRetentionPeriod"] > _props(tpl, queue)["MessageRetentionPeriod"]
    for lid in (queue, dlq):
        assert _props(tpl, lid)["SqsManagedSseEnabled"] is True

    props = _props(tpl, alarm)
    assert props["Namespace"] == "AWS/SQS"
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert (props["Period"], props["EvaluationPeriods"]) == (60, 1)
    assert props["TreatMissingData"] == "notBreaching"
    alarms = tpl.resources_of_type("AWS::CloudWatch::Alarm").values()
    watched = {alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for alarm in alarms}
    # Every dead-letter queue has its alarm.
    assert watched == {"SendDeadLetterQueue", "CountsDeadLetterQueue", "WebhookDeadLetterQueue"}


def test_counts_read_the_table_stream_in_order(tpl: LocalTemplate) -> None:
    assert _props(tpl, "Table")["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    (trigger,) = tpl.function("CountsFunction").stream_triggers
    assert trigger.table == "Table"
    event = _props(tpl, "CountsFunction")["Events"]["RecipientChanges"]["Properties"]
    assert event["ParallelizationFactor"] == 1  # the sequence guard needs one reader per shard
    assert trigger.bisect_on_error and trigger.on_failure_queue == "CountsDeadLetterQueue"
    assert trigger.max_retry_attempts > 0
    (pattern,) = trigger.filter_patterns
    assert pattern["dynamodb"]["Keys"]["sk"]["S"] == [{"prefix": "R#"}]


@pytest.mark.parametrize(
    ("topic", "actions"), [("", None), ("arn:aws:sns:us-east-1:1:ops", ["arn:aws:sns:us-east-1:1:ops"])]
)
def test_alarm_actions_only_with_a_topic(topic: str, actions: list[str] | None) -> None:
    tpl = load_template(ROOT / "template.yaml", {"AlarmTopicArn": topic})
    resolved = tpl.resolve(_props(tpl, "DeadLetterAlarm"), {"SendDeadLetterQueue.QueueName": "dlq"})
    assert resolved.get("AlarmActions") == actions
    assert resolved.get("OKActions") == actions


def test_table(tpl: LocalTemplate) -> None:
    (table,) = tpl.resources_of_type("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_no_wildcard_iam_actions(tpl: LocalTemplate) -> None:
    for lid, resource in tpl.resources.items():
        for node in _walk(resource):
            if isinstance(node, dict) and "Action" in node and "Effect" in node:
                actions = node["Action"] if isinstance(node["Action"], list) else [node["Action"]]
                assert not any("*" in a for a in actions), (lid, actions)
    confirming = load_template(
        ROOT / "template.yaml", {"OptOutConfirmationText": "You will get no more texts"}
    )
    for lid in FUNCTIONS:
        for policy in _policies(tpl, lid) + _policies(confirming, lid):
            assert isinstance(policy, dict), f"{lid}: managed policy {policy!r}"
            (name,) = policy
            assert name == "Statement" or name in SCOPED_POLICY_TEMPLATES, (lid, name)


def _grants(tpl: LocalTemplate, lid: str) -> tuple[set[tuple[str, str]], set[str]]:
    """(action, resource) pairs of a function's statements, and the secrets it may read."""
    pairs: set[tuple[str, str]] = set()
    secrets: set[str] = set()
    for policy in _policies(tpl, lid):
        if "AWSSecretsManagerGetSecretValuePolicy" in policy:
            secrets.add(policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Ref"])
            continue
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for resource in resources:
                name = resource["Fn::GetAtt"][0] if "Fn::GetAtt" in resource else resource["Fn::Sub"]
                pairs.update((action, name) for action in actions)
    return pairs, secrets


def _on(resource: str, *actions: str) -> set[tuple[str, str]]:
    return {(action, resource) for action in actions}


WORKER = (
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
)


SCHEDULES = "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${ScheduleGroup}/*"


def test_each_function_gets_only_the_actions_it_uses(tpl: LocalTemplate) -> None:
    """Least privilege (issue 16): explicit actions per function, no DynamoDBCrudPolicy, no Scan."""
    expected = {
        "ApiFunction": (
            _on("Table", *WORKER, "dynamodb:PutItem", "dynamodb:DeleteItem")
            | _on("${Table.Arn}/index/jobs-by-created", "dynamodb:Query")
            | _on("SendQueue", "sqs:SendMessage")
            | _on(SCHEDULES, "scheduler:CreateSchedule", "scheduler:DeleteSchedule")
            | _on("SchedulerRole", "iam:PassRole"),
            set(),
        ),
        "SenderFunction": (
            # A scheduled job's start and the rate cap's hand-back queue messages.
            _on("Table", *WORKER) | _on("SendQueue", "sqs:ChangeMessageVisibility", "sqs:SendMessage"),
            {"ClickatellSecret"},
        ),
        # Whoever finishes jobs (the counts function, the sweeper) queues their status callbacks.
        "CountsFunction": (
            _on("Table", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchGetItem")
            | _on("CountsDeadLetterQueue", "sqs:SendMessage")
            | _on("WebhookQueue", "sqs:SendMessage"),
            set(),
        ),
        "SweeperFunction": (
            _on("Table", *WORKER)
            | _on("${Table.Arn}/index/active-jobs", "dynamodb:Query")
            | _on("SendQueue", "sqs:SendMessage")
            | _on("WebhookQueue", "sqs:SendMessage"),
            set(),
        ),
        "CallbackFunction": (
            _on("Table", "dynamodb:GetItem", "dynamodb:UpdateItem"),
            {"CallbackTokenSecret"},
        ),
        "StatusCallbackFunction": (
            _on("WebhookQueue", "sqs:ChangeMessageVisibility"),
            {"WebhookSigningSecret"},
        ),
        # Its replies and suppression entries only (LeadingKeys, below), and the webhook queue.
        "InboundFunction": (
            _on("Table", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
            | _on("WebhookQueue", "sqs:SendMessage"),
            {"CallbackTokenSecret"},
        ),
    }
    assert {lid: _grants(tpl, lid) for lid in FUNCTIONS} == expected
    # The optional STOP confirmation is sent by the inbound function: only then may it read that secret.
    confirming = load_template(
        ROOT / "template.yaml", {"OptOutConfirmationText": "You will get no more texts"}
    )
    assert _grants(confirming, "InboundFunction") == (
        expected["InboundFunction"][0],
        {"CallbackTokenSecret", "ClickatellSecret"},
    )
    # The API may delete only suppression entries and powertools' idempotency records (it does when a
    # request fails early); the inbound function writes only its own items and suppression entries.
    (delete,) = [
        statement
        for policy in _props(tpl, "ApiFunction")["Policies"]
        for statement in policy.get("Statement", [])
        if statement["Action"] == "dynamodb:DeleteItem"
    ]
    assert delete["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idempotency#*", "SUPPRESSION#*"]}
    }
    (inbound_writes,) = [
        statement
        for policy in _props(tpl, "InboundFunction")["Policies"]
        for statement in policy.get("Statement", [])
        if "dynamodb:PutItem" in statement["Action"]
    ]
    assert inbound_writes["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["INBOUND", "SUPPRESSION#*"]}
    }
    # The API hands the scheduler role to EventBridge Scheduler only.
    (pass_role,) = [
        statement
        for policy in _props(tpl, "ApiFunction")["Policies"]
        for statement in policy.get("Statement", [])
        if statement["Action"] == "iam:PassRole"
    ]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    scheduler_role = _props(tpl, "SchedulerRole")
    (trust,) = scheduler_role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    (policy,) = scheduler_role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": [
                {"Fn::GetAtt": ["SendQueue", "Arn"]},
                {"Fn::GetAtt": ["SendDeadLetterQueue", "Arn"]},
            ],
        }
    ]


def test_the_public_callback_function_has_reserved_concurrency_by_default(tpl: LocalTemplate) -> None:
    assert int(tpl.parameters["CallbackMaxConcurrency"]) > 0
    assert tpl.condition("LimitCallbacks")
    assert tpl.resolve(_props(tpl, "CallbackFunction")["ReservedConcurrentExecutions"]) == "20"
    assert not load_template(ROOT / "template.yaml", {"CallbackMaxConcurrency": "0"}).condition(
        "LimitCallbacks"
    )


def test_secrets_are_generated_not_parameters(tpl: LocalTemplate) -> None:
    for name, spec in tpl.document["Parameters"].items():
        lowered = name.lower()
        assert not any(word in lowered for word in ("password", "secret", "token", "apiid", "user")), name
        assert spec.get("NoEcho") is not True, name
    secrets = {s.logical_id: s for s in tpl.secrets()}
    assert set(secrets) == {"ClickatellSecret", "CallbackTokenSecret", "WebhookSigningSecret"}
    assert json.loads(secrets["ClickatellSecret"].initial_value("pw")) == {
        "user": "REPLACE_ME",
        "api_id": "REPLACE_ME",
        "password": "pw",
    }
    assert "put-secret-value" in secrets["ClickatellSecret"].description
    assert secrets["CallbackTokenSecret"].generate_key == "token"
    assert _props(tpl, "CallbackTokenSecret")["GenerateSecretString"]["PasswordLength"] >= 32
    assert secrets["WebhookSigningSecret"].generate_key == "key"
    assert _props(tpl, "WebhookSigningSecret")["GenerateSecretString"]["PasswordLength"] >= 32
    env = tpl.document["Globals"]["Function"]["Environment"]["Variables"]
    assert env["CLICKATELL_SECRET_ID"] == {"Ref": "ClickatellSecret"}
    # Each of the other secrets only where it is used: the token signs nothing any more.
    assert "CALLBACK_TOKEN_SECRET_ID" not in env
    assert tpl.function("CallbackFunction").environment["CALLBACK_TOKEN_SECRET_ID"] == {
        "Ref": "CallbackTokenSecret"
    }
    webhooks = tpl.function("StatusCallbackFunction").environment
    assert webhooks["WEBHOOK_SIGNING_SECRET_ID"] == {"Ref": "WebhookSigningSecret"}


def test_contract_routes_on_api_function_with_api_key(tpl: LocalTemplate) -> None:
    api = tpl.function("ApiFunction")
    assert {(r.method, r.path) for r in api.api_routes} == CONTRACT_ROUTES
    assert {r.api for r in api.api_routes} == {"Api"}
    for event in _props(tpl, "ApiFunction")["Events"].values():
        assert event["Properties"].get("Auth", {}).get("ApiKeyRequired", True) is True
    props = _props(tpl, "Api")
    assert props["Auth"]["ApiKeyRequired"] is True
    plan = props["Auth"]["UsagePlan"]
    assert plan["CreateUsagePlan"] == "PER_API"
    assert plan["Quota"] == {"Limit": {"Ref": "ApiQuotaPerDay"}, "Period": "DAY"}
    assert plan["Throttle"] == {
        "RateLimit": {"Ref": "ApiThrottleRateLimit"},
        "BurstLimit": {"Ref": "ApiThrottleBurstLimit"},
    }
    assert props["StageName"] == "prod"
    assert props["TracingEnabled"] is True
    others = [fn for fn in tpl.functions() if fn.logical_id != "ApiFunction"]
    assert not any(fn.api_routes for fn in others)


@pytest.mark.parametrize(
    ("function", "path"), [("CallbackFunction", CALLBACK_PATH), ("InboundFunction", INBOUND_PATH)]
)
def test_token_checked_functions_have_their_own_url(tpl: LocalTemplate, function: str, path: str) -> None:
    callback = tpl.function(function)
    assert callback.function_url
    assert _props(tpl, function)["FunctionUrlConfig"]["AuthType"] == "NONE"
    assert callback.local_path == path
    assert set(callback.local_methods) == {"GET", "POST"}


def test_sweeper_schedule(tpl: LocalTemplate) -> None:
    (schedule,) = tpl.function("SweeperFunction").schedules
    assert schedule.expression == "rate(5 minutes)" and schedule.enabled


def test_log_groups_with_retention_for_every_function(tpl: LocalTemplate) -> None:
    groups = tpl.resources_of_type("AWS::Logs::LogGroup").values()
    names = {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups}
    assert names == {f"/aws/lambda/${{{fn}}}" for fn in FUNCTIONS}
    for group in groups:
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_environment_matches_settings(tpl: LocalTemplate) -> None:
    refs = {
        "Table": "t", "SendQueue": "http://q", "ClickatellSecret": "arn:c", "CallbackTokenSecret": "arn:t",
        "ScheduleGroup": "g", "SchedulerRole.Arn": "arn:r", "SendQueue.Arn": "arn:q",
        "SendDeadLetterQueue.Arn": "arn:d",
        "WebhookQueue": "http://w", "WebhookSigningSecret": "arn:w",
    }  # fmt: skip
    for fn in tpl.functions():
        env = tpl.function_environment(fn, refs)
        assert env["TABLE_NAME"] == "t" and env["SEND_QUEUE_URL"] == "http://q"
        assert env["CHUNK_SIZE"] == "600" and env["MAX_RECIPIENTS"] == "100000"
        assert env["POWERTOOLS_SERVICE_NAME"] == "bulksms"
        # Empty: settings use the chosen API's own URL (tests/unit/test_settings.py).
        assert env["CLICKATELL_API"] == "http" and env["CLICKATELL_BASE_URL"] == ""
        assert env["MAX_SEND_RATE"] == "0"  # no cap unless the deployment sets one


def test_clickatell_api_one_sets_the_environment_and_asks_for_an_api_key() -> None:
    tpl = load_template(ROOT / "template.yaml", {"ClickatellApi": "one"})
    assert tpl.document["Parameters"]["ClickatellApi"]["AllowedValues"] == ["http", "one"]
    refs = {
        "Table": "t", "SendQueue": "http://q", "ClickatellSecret": "arn:c", "CallbackTokenSecret": "arn:t",
        "ScheduleGroup": "g", "SchedulerRole.Arn": "arn:r", "SendQueue.Arn": "arn:q",
        "SendDeadLetterQueue.Arn": "arn:d", "WebhookQueue": "http://w", "WebhookSigningSecret": "arn:w",
    }  # fmt: skip
    for fn in tpl.functions():
        assert tpl.function_environment(fn, refs)["CLICKATELL_API"] == "one"
    secrets = {s.logical_id: s for s in tpl.secrets()}
    assert json.loads(secrets["ClickatellSecret"].initial_value("k")) == {"api_key": "k"}


def test_parameters(tpl: LocalTemplate) -> None:
    specs = tpl.document["Parameters"]
    assert int(specs["ChunkSize"]["Default"]) == 600 <= int(specs["ChunkSize"]["MaxValue"]) == 600
    assert int(specs["MaxRecipients"]["Default"]) == 100000
    assert int(specs["RetentionDays"]["Default"]) == 90
    assert tpl.parameters["AlarmTopicArn"] == ""
    for name, spec in specs.items():
        assert "Default" in spec and spec.get("Description"), name


def test_outputs(tpl: LocalTemplate) -> None:
    assert set(tpl.document["Outputs"]) == {
        "ApiUrl", "ApiKeyId", "CallbackUrl", "InboundUrl", "TableName", "SendQueueUrl", "SendQueueName",
        "DeadLetterQueueUrl", "ClickatellSecretArn", "CallbackTokenSecretArn", "WebhookSigningSecretArn",
        "WebhookDeadLetterQueueUrl",
    }  # fmt: skip
    outputs = tpl.document["Outputs"]
    assert outputs["ApiKeyId"]["Value"] == {"Ref": "ApiApiKey"}  # SAM's name for the PER_API key
    assert outputs["CallbackUrl"]["Value"] == {"Fn::GetAtt": ["CallbackFunctionUrl", "FunctionUrl"]}
    assert outputs["InboundUrl"]["Value"] == {"Fn::GetAtt": ["InboundFunctionUrl", "FunctionUrl"]}
    assert tpl.resolve(outputs["ApiUrl"]["Value"], {"Api": "abc123"}) == (
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    )


# Each function's sample event, and the powertools model of what its trigger sends.
SAMPLE_EVENTS = [
    ("ApiFunction", "api_post_messages.json", "APIGatewayProxyEventModel"),
    ("ApiFunction", "api_get_job.json", "APIGatewayProxyEventModel"),
    ("SenderFunction", "sqs_send_batch.json", "SqsModel"),
    ("CallbackFunction", "callback_get.json", "LambdaFunctionUrlModel"),
    ("CallbackFunction", "callback_post.json", "LambdaFunctionUrlModel"),
    ("InboundFunction", "inbound_post.json", "LambdaFunctionUrlModel"),
    ("InboundFunction", "inbound_one_api_post.json", "LambdaFunctionUrlModel"),
    ("SweeperFunction", "sweeper_schedule.json", "EventBridgeModel"),
    ("StatusCallbackFunction", "sqs_status_callback.json", "SqsModel"),
    ("CountsFunction", "dynamodb_recipient_changes.json", "DynamoDBStreamModel"),
]


@pytest.mark.parametrize(("function", "filename", "model"), SAMPLE_EVENTS)
def test_sample_events_have_the_trigger_shape(
    tpl: LocalTemplate, function: str, filename: str, model: str
) -> None:
    from aws_lambda_powertools.utilities.parser import models, parse

    event = json.loads((ROOT / "events" / filename).read_text())
    parse(event=event, model=getattr(models, model))
    fn = tpl.function(function)
    if model == "APIGatewayProxyEventModel":
        assert (event["httpMethod"], event["resource"]) in {(r.method, r.path) for r in fn.api_routes}
        assert event["headers"]["x-api-key"]
    elif model == "LambdaFunctionUrlModel":
        assert fn.function_url and event["rawPath"] == fn.local_path
        assert event["requestContext"]["http"]["method"] in fn.local_methods
        assert "token" in event["queryStringParameters"]


def test_every_function_has_a_sample_event() -> None:
    assert {function for function, _, _ in SAMPLE_EVENTS} == FUNCTIONS


def test_status_callback_function_event_source(tpl: LocalTemplate) -> None:
    (trigger,) = tpl.function("StatusCallbackFunction").sqs_triggers
    assert trigger.queue == "WebhookQueue" and trigger.reports_batch_item_failures
    event = _props(tpl, "StatusCallbackFunction")["Events"][trigger.event_id]["Properties"]
    assert event["BatchSize"] == 1  # one callback per invocation: a slow endpoint holds up no other
    assert event["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "WebhookMaxConcurrency"}
    timeout = tpl.function("StatusCallbackFunction").timeout_s
    assert int(_props(tpl, "WebhookQueue")["VisibilityTimeout"]) >= 6 * timeout
    assert int(tpl.document["Parameters"]["WebhookDeadlineSeconds"]["MaxValue"]) < timeout
    assert tpl.parameters["WebhookAllowedHosts"] == ""  # public addresses only, by default
