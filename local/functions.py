"""Load each function's real handler from its code directory, with the layer on the import path, and
invoke it the way Lambda would: each invocation isolated from the others running at the same time."""

from __future__ import annotations

import contextvars
import copy
import importlib.util
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from types import ModuleType
from typing import Any

from local.template import FunctionDefinition

Handler = Callable[[dict[str, Any], Any], Any]
# Imports of handler modules, one at a time: a module is in sys.modules before it has finished
# executing, so a second thread importing it meanwhile would use a half-built module.
_IMPORT_LOCK = threading.RLock()


def load_module(function: FunctionDefinition, module_name: str | None = None) -> ModuleType:
    """Import `CodeUri/<module>.py` once, under a name of its own (every function's module is `app`),
    with the function's layers on the import path as in Lambda. A tool that imports it outside the
    stack's environment passes a name of its own, so the stack still gets a module built in its own."""
    module_name = module_name or f"_function_{function.logical_id}"
    with _IMPORT_LOCK:
        if module_name in sys.modules:
            return sys.modules[module_name]
        for layer in function.layer_dirs:
            if str(layer) not in sys.path:
                sys.path.insert(0, str(layer))
        path = function.code_dir / f"{function.handler_module.replace('.', '/')}.py"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module


def load_handler(function: FunctionDefinition) -> Handler:
    handler: Handler = getattr(load_module(function), function.handler_attr)
    return handler


def invoke(function: FunctionDefinition, event: dict[str, Any], context: Any) -> Any:
    """Invoke the function's handler as one Lambda invocation, isolated from the others running."""
    return run_isolated(load_handler(function), event, context)


def run_isolated(handler: Handler, event: dict[str, Any], context: Any) -> Any:
    """Run one invocation with its own copy of the state powertools keeps per process.

    Lambda runs one invocation at a time in an execution environment; here invocations of every
    function run at once in threads of one process. powertools keeps per-invocation state where one
    process is one environment: the resolver's current event on its base class, the metrics of every
    `Metrics()` in one class-level dict, the log keys on the formatter. Shared, one invocation would
    read another's event, flush and clear another's metrics (failing on "no metric"), or log another's
    keys. Each invocation gets its own (a contextvars context; work it hands to a thread pool carries
    the context along, runtime.py).
    """
    _isolate_powertools()
    return contextvars.Context().run(_run, handler, event, context)


def _run(handler: Handler, event: dict[str, Any], context: Any) -> Any:
    _INVOCATION_STATE.set({})
    return handler(event, context)


_INVOCATION_STATE: ContextVar[dict[tuple[int, str], Any] | None] = ContextVar(
    "local_invocation", default=None
)


class _PerInvocation:
    """An attribute whose value, inside an invocation, is that invocation's own: a copy (made by
    `fresh`) of the value it had outside any invocation, where it is set once at construction."""

    def __init__(self, name: str, fresh: Callable[[Any], Any], on_class: type | None = None) -> None:
        self._name, self._base, self._fresh = name, f"_local_base_{name}", fresh
        self._on_class = on_class  # a class attribute: one value per invocation, not per object

    def __get__(self, owner_object: Any, owner: type | None = None) -> Any:
        holder = self._on_class or (owner if owner_object is None else owner_object)
        if self._on_class is None and owner_object is not None and self._name in vars(owner_object):
            # Built before the class was patched: its own value becomes its base.
            vars(owner_object)[self._base] = vars(owner_object).pop(self._name)
        base = vars(holder).get(self._base)
        state = _INVOCATION_STATE.get()
        if state is None:
            return base
        key = (id(holder), self._name)
        if key not in state:
            state[key] = self._fresh(base)
        return state[key]

    def __set__(self, owner_object: Any, value: Any) -> None:
        _set_per_invocation(self._on_class or owner_object, self._name, self._base, value)


def _set_per_invocation(holder: Any, name: str, base: str, value: Any) -> None:
    state = _INVOCATION_STATE.get()
    if state is None or base not in vars(holder):
        if isinstance(holder, type):
            type.__setattr__(holder, base, value)
        else:
            holder.__dict__[base] = value
    else:
        state[(id(holder), name)] = value


class _ClassAttributes:
    """Stands for a class in its module's globals, so `Class.attribute = value` there is per invocation
    for the given attributes (a class attribute set that way would replace a descriptor)."""

    def __init__(self, cls: type, names: frozenset[str]) -> None:
        object.__setattr__(self, "_cls", cls)
        object.__setattr__(self, "_names", names)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cls, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._names:
            _set_per_invocation(self._cls, name, f"_local_base_{name}", value)
        else:
            setattr(self._cls, name, value)


def _copy(value: Any) -> Any:
    return copy.copy(value) if value is not None else None


@cache  # once per process; the lock and the check below make a racing first call harmless
def _isolate_powertools() -> None:
    from aws_lambda_powertools.event_handler import api_gateway
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    with _IMPORT_LOCK:
        if isinstance(api_gateway.BaseRouter, _ClassAttributes):
            return
        per_object = (
            (LambdaPowertoolsFormatter, ("log_format",)),
            (AmazonCloudWatchEMFProvider, ("metric_set", "dimension_set", "dimension_sets", "metadata_set")),
            (api_gateway.BaseRouter, ("context",)),
        )
        for cls, names in per_object:
            for name in names:
                _install(cls, name)
        router = api_gateway.BaseRouter
        for name in ("current_event", "lambda_context"):
            type.__setattr__(router, name, _PerInvocation(name, _copy, on_class=router))
            type.__setattr__(router, f"_local_base_{name}", None)
        api_gateway.BaseRouter = _ClassAttributes(router, frozenset({"current_event", "lambda_context"}))  # type: ignore[misc,assignment]


def _install(cls: type, name: str) -> None:
    type.__setattr__(cls, name, _PerInvocation(name, _copy))
