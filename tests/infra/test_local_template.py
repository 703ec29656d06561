"""local/template.py: the local stack's reader of template.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local.template import NO_VALUE, LocalTemplate, load_template

ROOT = Path(__file__).resolve().parents[2]

SMALL = """\
AWSTemplateFormatVersion: 2010-09-09
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Size: {Type: Number, Default: 5, MinValue: 1, MaxValue: 10}
  Topic: {Type: String, Default: ""}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  HasTopic: !Not [!Equals [!Ref Topic, ""]]
  ProdWithTopic: !And [!Condition IsProd, !Condition HasTopic]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub app-${Stage}
Outputs:
  Url: {Value: !Sub "https://${Queue}.${AWS::Region}.${AWS::URLSuffix}/${!literal}"}
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def tpl() -> LocalTemplate:
    return load_template(ROOT / "template.yaml")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Without resetting moto's backends, which an in-process local stack of an earlier test file on
    # the same pytest worker keeps using (its table would vanish under it).
    mock = mock_aws()
    mock.start(reset=False)
    yield
    mock.stop(remove_data=False)


def test_short_tags_become_long_form_and_dates_stay_strings(small: Path) -> None:
    t = load_template(small)
    assert t.document["AWSTemplateFormatVersion"] == "2010-09-09"
    assert t.document["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert t.document["Conditions"]["ProdWithTopic"] == {
        "Fn::And": [{"Condition": "IsProd"}, {"Condition": "HasTopic"}]
    }
    assert t.document["Resources"]["Queue"]["Properties"]["QueueName"] == {"Fn::Sub": "app-${Stage}"}


def test_getatt_short_form_is_split(tpl: LocalTemplate) -> None:
    redrive = tpl.resources["SendQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["SendDeadLetterQueue", "Arn"]}


def test_parameters_are_strings_with_overrides(small: Path) -> None:
    assert load_template(small).parameters == {"Stage": "dev", "Size": "5", "Topic": ""}
    assert load_template(small, {"Size": "7"}).parameters["Size"] == "7"


@pytest.mark.parametrize("overrides", [{"Size": "11"}, {"Size": "0"}, {"Stage": "qa"}, {"Nope": "1"}])
def test_bad_overrides_are_refused(small: Path, overrides: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        load_template(small, overrides)


def test_resolve_ref_over_refs_parameters_and_pseudo_parameters(small: Path) -> None:
    t = load_template(small, account_id="999999999999")
    assert t.resolve({"Ref": "Stage"}) == "dev"
    assert t.resolve({"Ref": "AWS::AccountId"}) == "999999999999"
    assert t.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert t.resolve({"Ref": "AWS::Region"}, {"AWS::Region": "eu-west-1"}) == "eu-west-1"
    assert t.resolve({"Ref": "Queue"}, {"Queue": "http://localhost/q"}) == "http://localhost/q"
    assert t.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    with pytest.raises(KeyError):
        t.resolve({"Ref": "Queue"})


def test_resolve_sub(small: Path) -> None:
    t = load_template(small)
    assert t.resolve(t.document["Outputs"]["Url"]["Value"], {"Queue": "q1"}) == (
        "https://q1.us-east-1.amazonaws.com/${literal}"
    )
    assert t.resolve({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "Size"}}]}) == "5-dev"
    assert t.resolve({"Fn::Sub": "${Queue.Arn}"}, {"Queue.Arn": "arn:q"}) == "arn:q"


def test_resolve_getatt(small: Path) -> None:
    t = load_template(small)
    assert t.resolve({"Fn::GetAtt": ["Queue", "Arn"]}, {"Queue.Arn": "arn:aws:sqs:us-east-1:1:q"}) == (
        "arn:aws:sqs:us-east-1:1:q"
    )
    with pytest.raises(KeyError, match=r"Queue\.Arn"):
        t.resolve({"Fn::GetAtt": ["Queue", "Arn"]})


def test_resolve_if_and_conditions(small: Path) -> None:
    value = {"Actions": {"Fn::If": ["HasTopic", [{"Ref": "Topic"}], {"Ref": "AWS::NoValue"}]}, "Keep": 1}
    assert load_template(small).resolve(value) == {"Keep": 1}
    assert load_template(small, {"Topic": "arn:t"}).resolve(value) == {"Actions": ["arn:t"], "Keep": 1}
    assert load_template(small, {"Stage": "prod", "Topic": "x"}).condition("ProdWithTopic")
    assert not load_template(small, {"Stage": "prod"}).condition("ProdWithTopic")
    assert load_template(small).resolve([1, {"Fn::If": ["IsProd", 2, {"Ref": "AWS::NoValue"}]}]) == [1]


def test_resolve_join_select_split(small: Path) -> None:
    t = load_template(small)
    assert t.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-dev"
    assert t.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    with pytest.raises(ValueError):
        t.resolve({"Fn::GetAZs": ""})


def test_table_definition_creates_the_table_with_ttl(tpl: LocalTemplate, aws: None) -> None:
    definition = tpl.table_definition("bulksms-local")
    assert definition["BillingMode"] == "PAY_PER_REQUEST"
    assert definition["SSESpecification"] == {"Enabled": True}
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(**definition)
    assert tpl.table_ttl_attribute() == "expires_at"
    ddb.update_time_to_live(
        TableName="bulksms-local",
        TimeToLiveSpecification={"AttributeName": tpl.table_ttl_attribute(), "Enabled": True},
    )
    described = ddb.describe_table(TableName="bulksms-local")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    ttl = ddb.describe_time_to_live(TableName="bulksms-local")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_queue_definitions_create_queues_with_redrive(tpl: LocalTemplate, aws: None) -> None:
    queues = tpl.queue_definitions()
    order = [q.logical_id for q in queues]
    assert set(order) == {
        "SendDeadLetterQueue", "SendQueue", "CountsDeadLetterQueue", "WebhookDeadLetterQueue", "WebhookQueue",
    }  # fmt: skip
    for queue, target in (("SendQueue", "SendDeadLetterQueue"), ("WebhookQueue", "WebhookDeadLetterQueue")):
        assert order.index(target) < order.index(queue)  # the redrive target first
    send = queues[order.index("SendQueue")]
    assert send.attributes == {
        "VisibilityTimeout": "720",
        "MessageRetentionPeriod": "345600",
        "SqsManagedSseEnabled": "true",
    }
    assert send.redrive is not None
    assert (send.redrive.target, send.redrive.max_receive_count) == ("SendDeadLetterQueue", 5)

    sqs = boto3.client("sqs", region_name="us-east-1")
    arns: dict[str, str] = {}
    urls: dict[str, str] = {}
    for q in queues:
        attributes = dict(q.attributes)
        if q.redrive is not None:
            attributes["RedrivePolicy"] = q.redrive_policy(arns[q.redrive.target])
        urls[q.logical_id] = sqs.create_queue(QueueName=f"bulksms-{q.logical_id}", Attributes=attributes)[
            "QueueUrl"
        ]
        arns[q.logical_id] = sqs.get_queue_attributes(
            QueueUrl=urls[q.logical_id], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

    got = sqs.get_queue_attributes(QueueUrl=urls["SendQueue"], AttributeNames=["All"])["Attributes"]
    assert got["VisibilityTimeout"] == "720"
    assert json.loads(got["RedrivePolicy"]) == {
        "deadLetterTargetArn": arns["SendDeadLetterQueue"],
        "maxReceiveCount": 5,
    }


def test_queue_redrive_follows_the_parameter() -> None:
    queues = load_template(ROOT / "template.yaml", {"MaxReceiveCount": "2"}).queue_definitions()
    redrives = {q.logical_id: q.redrive.max_receive_count for q in queues if q.redrive}
    assert redrives == {"SendQueue": 2, "WebhookQueue": 8}


def test_secrets_can_be_created(tpl: LocalTemplate, aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    for secret in tpl.secrets():
        name = secret.name or f"bulksms/{secret.logical_id}"
        client.create_secret(
            Name=name, Description=secret.description, SecretString=secret.initial_value("x")
        )
    token = client.get_secret_value(SecretId="bulksms/CallbackTokenSecret")["SecretString"]
    assert json.loads(token) == {"token": "x"}


def test_functions(tpl: LocalTemplate) -> None:
    sender = tpl.function("SenderFunction")
    assert sender.code_dir == ROOT / "functions" / "sender"
    assert (sender.handler_module, sender.handler_attr, sender.runtime) == (
        "app",
        "lambda_handler",
        "python3.12",
    )
    (trigger,) = sender.sqs_triggers
    assert (trigger.queue, trigger.batch_size, trigger.batching_window_s, trigger.max_concurrency) == (
        "SendQueue",
        5,
        0,
        5,
    )
    assert trigger.function_response_types == ("ReportBatchItemFailures",)
    assert not sender.function_url and not sender.api_routes

    callback = tpl.function("CallbackFunction")
    assert callback.function_url
    assert (callback.local_path, callback.local_methods) == ("/v1/callbacks/clickatell", ("GET", "POST"))

    api = tpl.function("ApiFunction")
    assert ("GET", "/v1/messages/{job_id}/recipients") in {(r.method, r.path) for r in api.api_routes}


def test_sqs_trigger_follows_parameters() -> None:
    t = load_template(
        ROOT / "template.yaml",
        {"SenderBatchSize": "3", "SenderBatchingWindowSeconds": "2", "SenderMaxConcurrency": "9"},
    )
    (trigger,) = t.function("SenderFunction").sqs_triggers
    assert (trigger.batch_size, trigger.batching_window_s, trigger.max_concurrency) == (3, 2, 9)


def test_function_environment_is_resolved_with_refs(tpl: LocalTemplate) -> None:
    env = tpl.function_environment(
        tpl.function("ApiFunction"),
        {
            "Table": "tbl",
            "SendQueue": "http://q",
            "WebhookQueue": "http://w",
            "ClickatellSecret": "c",
            "ScheduleGroup": "grp",
            "SchedulerRole.Arn": "arn:role",
            "SendQueue.Arn": "arn:q",
            "SendDeadLetterQueue.Arn": "arn:dlq",
        },
    )
    assert env["TABLE_NAME"] == "tbl"
    assert env["SCHEDULE_GROUP"] == "grp" and env["SCHEDULER_ROLE_ARN"] == "arn:role"
    assert env["CLICKATELL_SECRET_ID"] == "c"
    assert env["WEBHOOK_QUEUE_URL"] == "http://w" and env["WEBHOOK_ALLOWED_HOSTS"] == ""
    assert env["CHUNK_LEASE_SECONDS"] == "180"
    assert all(isinstance(v, str) for v in env.values())


def test_local_base_url_override_is_accepted() -> None:
    t = load_template(ROOT / "template.yaml", {"ClickatellBaseUrl": "http://127.0.0.1:8099"})
    assert t.resolve({"Ref": "ClickatellBaseUrl"}) == "http://127.0.0.1:8099"
