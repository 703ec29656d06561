"""Read template.yaml for the local stack, so resources are defined once: in the template.

`load_template()` parses the SAM template (short intrinsic tags included) and answers what the local
stack needs: the table's create_table arguments, the queues with their redrive, the secrets, and each
function's code, handler, environment and triggers. `LocalTemplate.resolve()` evaluates the intrinsic
functions the template uses (Ref, Fn::Sub, Fn::GetAtt, Fn::If, Fn::Join, ...) over parameters,
pseudo parameters and the local physical values the caller passes as `refs`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"

_SHORT_TAGS = (
    "Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub",
    "Transform", "And", "Equals", "If", "Not", "Or", "ToJsonString", "Length",
)  # fmt: skip


class _NoValue:
    """AWS::NoValue: the property or list item it stands in for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that knows CloudFormation's short tags and leaves dates as strings."""


_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _add_short_tag(tag: str) -> None:
    long_name = "Ref" if tag == "Ref" else "Condition" if tag == "Condition" else f"Fn::{tag}"

    def constructor(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _construct(loader, node)
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {long_name: value}

    _CfnLoader.add_constructor(f"!{tag}", constructor)


for _tag in ("Ref", "Condition", *_SHORT_TAGS):
    _add_short_tag(_tag)


@dataclass(frozen=True)
class Redrive:
    target: str  # logical id of the dead-letter queue
    max_receive_count: int


@dataclass(frozen=True)
class QueueDefinition:
    logical_id: str
    name: str | None  # the template's QueueName, if it sets one
    attributes: dict[str, str]  # for sqs.create_queue(Attributes=...), without RedrivePolicy
    redrive: Redrive | None

    def redrive_policy(self, target_arn: str) -> str:
        """The RedrivePolicy attribute value, once the dead-letter queue exists."""
        if self.redrive is None:
            raise ValueError(f"{self.logical_id} has no redrive policy")
        return json.dumps(
            {"deadLetterTargetArn": target_arn, "maxReceiveCount": self.redrive.max_receive_count}
        )


@dataclass(frozen=True)
class SecretDefinition:
    logical_id: str
    name: str | None  # the template's Name, if it sets one
    description: str
    string_template: str | None  # GenerateSecretString.SecretStringTemplate
    generate_key: str | None  # GenerateSecretString.GenerateStringKey

    def initial_value(self, generated: str) -> str:
        """The secret string CloudFormation would create, with `generated` as the generated value."""
        if self.generate_key is None:
            return generated
        document = json.loads(self.string_template or "{}")
        document[self.generate_key] = generated
        return json.dumps(document)


@dataclass(frozen=True)
class ApiRoute:
    event_id: str
    method: str  # upper case
    path: str  # e.g. /v1/messages/{job_id}
    api: str | None  # logical id of the RestApiId, None for SAM's implicit API


@dataclass(frozen=True)
class SqsTrigger:
    event_id: str
    queue: str  # logical id
    batch_size: int
    batching_window_s: int
    max_concurrency: int | None
    function_response_types: tuple[str, ...]

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class StreamTrigger:
    """A DynamoDB event source: the table's stream, polled in order and delivered in batches."""

    event_id: str
    table: str  # logical id of the table whose StreamArn it reads
    starting_position: str
    batch_size: int
    batching_window_s: float
    bisect_on_error: bool
    max_retry_attempts: int  # -1: until the record expires
    on_failure_queue: str | None  # logical id of the SQS on-failure destination
    filter_patterns: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ScheduleTrigger:
    event_id: str
    expression: str  # rate(...) or cron(...)
    enabled: bool


@dataclass(frozen=True)
class FunctionDefinition:
    logical_id: str
    code_dir: Path
    handler_module: str
    handler_attr: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, Any]  # Globals merged with the function's; unresolved (see LocalTemplate.resolve)
    layer_dirs: tuple[Path, ...]  # ContentUri of each layer in the template, in order
    api_routes: tuple[ApiRoute, ...]
    sqs_triggers: tuple[SqsTrigger, ...]
    schedules: tuple[ScheduleTrigger, ...]
    stream_triggers: tuple[StreamTrigger, ...]
    function_url: bool
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def local_path(self) -> str | None:
        return self.metadata.get("LocalPath")

    @property
    def local_methods(self) -> tuple[str, ...]:
        return tuple(m.upper() for m in self.metadata.get("LocalMethods", ()))


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class LocalTemplate:
    def __init__(
        self,
        document: dict[str, Any],
        base_dir: Path,
        parameters: dict[str, str],
        pseudo_parameters: dict[str, str],
    ) -> None:
        self.document = document
        self.base_dir = base_dir
        self.parameters = parameters
        self.pseudo_parameters = pseudo_parameters

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.document.get("Resources", {})

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r.get("Type") == resource_type}

    # -- intrinsic functions ------------------------------------------------------------------

    def resolve(self, value: Any, refs: Mapping[str, str] | None = None) -> Any:
        """Evaluate intrinsic functions in `value`.

        `refs` maps a logical id to its local physical value (what Ref gives: table name, queue URL,
        secret ARN) and "LogicalId.Attribute" to what Fn::GetAtt gives; it may also override pseudo
        parameters such as "AWS::Region".
        """
        return self._resolve(value, dict(refs or {}))

    def _resolve(self, value: Any, refs: dict[str, str]) -> Any:
        if isinstance(value, list):
            resolved = [self._resolve(v, refs) for v in value]
            return [v for v in resolved if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg, refs)
            if key == "Condition":
                return self.condition(arg, refs)
            if key.startswith("Fn::"):
                return self._function(key, arg, refs)
        items = {k: self._resolve(v, refs) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not NO_VALUE}

    def _ref(self, name: str, refs: dict[str, str]) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        for source in (refs, self.parameters, self.pseudo_parameters):
            if name in source:
                return source[name]
        raise KeyError(f"Ref {name}: not a parameter, pseudo parameter or given in refs")

    def _get_att(self, logical_id: str, attribute: str, refs: dict[str, str]) -> str:
        key = f"{logical_id}.{attribute}"
        if key not in refs:
            raise KeyError(f"Fn::GetAtt {key}: pass its local value in refs[{key!r}]")
        return refs[key]

    def _function(self, name: str, arg: Any, refs: dict[str, str]) -> Any:
        if name == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._get_att(logical_id, self._resolve(attribute, refs), refs)
        if name == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self._resolve(arg[1], refs))
            return self._sub(text, variables, refs)
        if name == "Fn::If":
            condition, if_true, if_false = arg
            return self._resolve(if_true if self.condition(condition, refs) else if_false, refs)
        if name == "Fn::Join":
            delimiter, items = arg
            return delimiter.join(str(v) for v in self._resolve(items, refs))
        if name == "Fn::Select":
            index, items = self._resolve(arg, refs)
            return items[int(index)]
        if name == "Fn::Split":
            delimiter, text = self._resolve(arg, refs)
            return text.split(delimiter)
        if name == "Fn::ToJsonString":
            return json.dumps(self._resolve(arg, refs), separators=(",", ":"))
        if name in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._evaluate({name: arg}, refs)
        raise ValueError(f"{name} is not supported by the local template reader")

    def _sub(self, text: str, variables: dict[str, Any], refs: dict[str, str]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute, refs)
            return str(self._ref(name, refs))

        return _SUB_VARIABLE.sub(replace, text)

    def condition(self, name: str, refs: Mapping[str, str] | None = None) -> bool:
        """Evaluate a condition of the template's Conditions section."""
        conditions = self.document.get("Conditions", {})
        if name not in conditions:
            raise KeyError(f"condition {name} is not in the template")
        return self._evaluate(conditions[name], dict(refs or {}))

    def _evaluate(self, expression: Any, refs: dict[str, str]) -> bool:
        ((key, arg),) = expression.items()
        if key == "Condition":
            return self.condition(arg, refs)
        if key == "Fn::Equals":
            left, right = (str(self._resolve(v, refs)) for v in arg)
            return left == right
        if key == "Fn::Not":
            return not self._evaluate(arg[0], refs)
        if key == "Fn::And":
            return all(self._evaluate(v, refs) for v in arg)
        if key == "Fn::Or":
            return any(self._evaluate(v, refs) for v in arg)
        raise ValueError(f"{key} is not a condition function")

    # -- resources ------------------------------------------------------------------------------

    def _only(self, resource_type: str, logical_id: str | None) -> tuple[str, dict[str, Any]]:
        found = self.resources_of_type(resource_type)
        if logical_id is not None:
            return logical_id, found[logical_id]["Properties"]
        if len(found) != 1:
            raise ValueError(f"expected one {resource_type}, found {sorted(found)}: name the logical id")
        ((lid, resource),) = found.items()
        return lid, resource.get("Properties", {})

    def table_definition(self, table_name: str, logical_id: str | None = None) -> dict[str, Any]:
        """Keyword arguments for boto3 `dynamodb.create_table`."""
        _, props = self._only("AWS::DynamoDB::Table", logical_id)
        props = self.resolve(props)
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                kwargs[key] = props[key]
        if "SSESpecification" in props:
            sse = props["SSESpecification"]
            kwargs["SSESpecification"] = {"Enabled": _bool(sse.get("SSEEnabled", False))}
        if "StreamSpecification" in props:
            view = props["StreamSpecification"]["StreamViewType"]
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        return kwargs

    def table_ttl_attribute(self, logical_id: str | None = None) -> str | None:
        """The TTL attribute name, or None if TTL is off."""
        _, props = self._only("AWS::DynamoDB::Table", logical_id)
        ttl = self.resolve(props.get("TimeToLiveSpecification"))
        return ttl["AttributeName"] if ttl and _bool(ttl.get("Enabled", False)) else None

    def queue_definitions(self) -> list[QueueDefinition]:
        """Every AWS::SQS::Queue; redrive targets come before the queues that use them."""
        queues = []
        for lid, resource in self.resources_of_type("AWS::SQS::Queue").items():
            props = resource.get("Properties", {})
            attributes = {
                key: _attribute(self.resolve(value))
                for key, value in props.items()
                if key in _QUEUE_ATTRIBUTES
            }
            redrive = None
            if "RedrivePolicy" in props:
                policy = props["RedrivePolicy"]
                redrive = Redrive(
                    target=_logical_id_of_arn(policy["deadLetterTargetArn"]),
                    max_receive_count=int(self.resolve(policy["maxReceiveCount"])),
                )
            name = self.resolve(props["QueueName"]) if "QueueName" in props else None
            queues.append(QueueDefinition(lid, name, attributes, redrive))
        return sorted(queues, key=lambda q: q.redrive is not None)

    def secrets(self) -> list[SecretDefinition]:
        secrets = []
        for lid, resource in self.resources_of_type("AWS::SecretsManager::Secret").items():
            props = self.resolve(resource.get("Properties", {}))
            generate = props.get("GenerateSecretString", {})
            secrets.append(
                SecretDefinition(
                    logical_id=lid,
                    name=props.get("Name"),
                    description=props.get("Description", ""),
                    string_template=generate.get("SecretStringTemplate"),
                    generate_key=generate.get("GenerateStringKey"),
                )
            )
        return secrets

    def functions(self) -> list[FunctionDefinition]:
        defaults = self.document.get("Globals", {}).get("Function", {})
        layers = self.resources_of_type("AWS::Serverless::LayerVersion")
        functions = []
        for lid, resource in self.resources_of_type("AWS::Serverless::Function").items():
            props = resource.get("Properties", {})
            merged = {**defaults, **props}
            environment = {
                **defaults.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            layer_refs = [*defaults.get("Layers", []), *props.get("Layers", [])]
            layer_dirs = tuple(
                self.base_dir / layers[ref["Ref"]]["Properties"]["ContentUri"]
                for ref in layer_refs
                if isinstance(ref, dict) and ref.get("Ref") in layers
            )
            module, _, attr = merged["Handler"].rpartition(".")
            events = props.get("Events", {})
            functions.append(
                FunctionDefinition(
                    logical_id=lid,
                    code_dir=self.base_dir / merged["CodeUri"],
                    handler_module=module,
                    handler_attr=attr,
                    runtime=self.resolve(merged.get("Runtime", "")),
                    timeout_s=int(self.resolve(merged.get("Timeout", 3))),
                    memory_mb=int(self.resolve(merged.get("MemorySize", 128))),
                    environment=environment,
                    layer_dirs=layer_dirs,
                    api_routes=tuple(self._api_routes(events)),
                    sqs_triggers=tuple(self._sqs_triggers(events)),
                    schedules=tuple(self._schedules(events)),
                    stream_triggers=tuple(self._stream_triggers(events)),
                    function_url="FunctionUrlConfig" in merged,
                    metadata=dict(resource.get("Metadata", {})),
                )
            )
        return functions

    def function(self, logical_id: str) -> FunctionDefinition:
        for fn in self.functions():
            if fn.logical_id == logical_id:
                return fn
        raise KeyError(f"no AWS::Serverless::Function {logical_id}")

    def function_environment(self, fn: FunctionDefinition, refs: Mapping[str, str]) -> dict[str, str]:
        """The function's environment variables resolved with `refs`, all values as strings."""
        return {k: _attribute(v) for k, v in self.resolve(fn.environment, refs).items()}

    def _events(self, events: dict[str, Any], event_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [(eid, e.get("Properties", {})) for eid, e in events.items() if e.get("Type") == event_type]

    def _api_routes(self, events: dict[str, Any]) -> list[ApiRoute]:
        return [
            ApiRoute(
                event_id=eid,
                method=str(self.resolve(p["Method"])).upper(),
                path=self.resolve(p["Path"]),
                api=p["RestApiId"]["Ref"] if isinstance(p.get("RestApiId"), dict) else p.get("RestApiId"),
            )
            for eid, p in self._events(events, "Api")
        ]

    def _sqs_triggers(self, events: dict[str, Any]) -> list[SqsTrigger]:
        triggers = []
        for eid, p in self._events(events, "SQS"):
            concurrency = self.resolve(p.get("ScalingConfig", {}).get("MaximumConcurrency"))
            triggers.append(
                SqsTrigger(
                    event_id=eid,
                    queue=_logical_id_of_arn(p["Queue"]),
                    batch_size=int(self.resolve(p.get("BatchSize", 10))),
                    batching_window_s=int(self.resolve(p.get("MaximumBatchingWindowInSeconds", 0))),
                    max_concurrency=int(concurrency) if concurrency is not None else None,
                    function_response_types=tuple(self.resolve(p.get("FunctionResponseTypes", []))),
                )
            )
        return triggers

    def _stream_triggers(self, events: dict[str, Any]) -> list[StreamTrigger]:
        triggers = []
        for eid, p in self._events(events, "DynamoDB"):
            failure = p.get("DestinationConfig", {}).get("OnFailure", {})
            filters = self.resolve(p.get("FilterCriteria", {}).get("Filters", []))
            triggers.append(
                StreamTrigger(
                    event_id=eid,
                    table=_logical_id_of_arn(p["Stream"]),
                    starting_position=str(self.resolve(p.get("StartingPosition", "TRIM_HORIZON"))),
                    batch_size=int(self.resolve(p.get("BatchSize", 100))),
                    batching_window_s=float(self.resolve(p.get("MaximumBatchingWindowInSeconds", 0))),
                    bisect_on_error=_bool(self.resolve(p.get("BisectBatchOnFunctionError", False))),
                    max_retry_attempts=int(self.resolve(p.get("MaximumRetryAttempts", -1))),
                    on_failure_queue=_logical_id_of_arn(failure["Destination"]) if failure else None,
                    filter_patterns=tuple(json.loads(f["Pattern"]) for f in filters),
                )
            )
        return triggers

    def _schedules(self, events: dict[str, Any]) -> list[ScheduleTrigger]:
        return [
            ScheduleTrigger(eid, self.resolve(p["Schedule"]), _bool(self.resolve(p.get("Enabled", True))))
            for eid, p in self._events(events, "Schedule")
        ]


# CloudFormation AWS::SQS::Queue properties that are also create_queue attributes.
_QUEUE_ATTRIBUTES = frozenset(
    {
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "DelaySeconds",
        "FifoQueue",
        "FifoThroughputLimit",
        "KmsDataKeyReusePeriodSeconds",
        "KmsMasterKeyId",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
        "VisibilityTimeout",
    }
)


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _attribute(value: Any) -> str:
    """A value as CloudFormation passes it on: booleans as lower-case strings."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _logical_id_of_arn(value: Any) -> str:
    """The logical id behind `!GetAtt X.Arn` (or `!Ref X`)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return (target if isinstance(target, list) else target.split(".", 1))[0]
        if "Ref" in value:
            return value["Ref"]
    raise ValueError(f"expected !GetAtt <LogicalId>.Arn, got {value!r}: the local stack needs the resource")


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    """CloudFormation's parameter constraints, except AllowedPattern (the local stack points
    ClickatellBaseUrl at the http:// simulator, which the deployed template rightly refuses)."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise ValueError(f"parameter {name}={value!r}: not one of {allowed}")
    if spec.get("Type") == "Number":
        number = float(value)
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise ValueError(f"parameter {name}={value}: below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise ValueError(f"parameter {name}={value}: above MaxValue {spec['MaxValue']}")


def load_template(
    path: str | Path = DEFAULT_TEMPLATE,
    parameter_overrides: Mapping[str, str] | None = None,
    *,
    region: str = "us-east-1",
    account_id: str = "123456789012",
    stack_name: str = "bulksms",
) -> LocalTemplate:
    """Parse the template; parameters are its defaults with `parameter_overrides` applied."""
    path = Path(path)
    document = yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass
    specs: dict[str, dict[str, Any]] = document.get("Parameters", {})
    overrides = {k: str(v) for k, v in (parameter_overrides or {}).items()}
    unknown = set(overrides) - set(specs)
    if unknown:
        raise ValueError(f"unknown parameters: {sorted(unknown)}")
    parameters = {}
    for name, spec in specs.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = _attribute(spec["Default"])
        else:
            raise ValueError(f"parameter {name} has no default: pass it in parameter_overrides")
        _check_parameter(name, spec, value)
        parameters[name] = value
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    return LocalTemplate(document, path.resolve().parent, parameters, pseudo)
