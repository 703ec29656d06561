"""Load each function's real handler from its code directory, with the layer on the import path, and
invoke it the way Lambda would: each invocation with log keys of its own."""

from __future__ import annotations

import contextvars
import importlib.util
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
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
    """Invoke the function's handler as one Lambda invocation: the log keys it appends (its context's
    function name and memory size, a job id) stay its own, as they would in its own container."""
    _isolate_log_keys()
    return contextvars.Context().run(_invoke_isolated, load_handler(function), event, context)


def _invoke_isolated(handler: Handler, event: dict[str, Any], context: Any) -> Any:
    _INVOCATION_KEYS.set({})
    return handler(event, context)


# Every function logs through powertools' Logger of one service, so in this one process they share a
# formatter, and its persistent keys (`log_format`) would be shared by every concurrent invocation.
# Locally that attribute is kept per invocation (a contextvars context); outside one it is the
# formatter's own. Work the invocation hands to a thread pool carries the context along (runtime.py).
_INVOCATION_KEYS: ContextVar[dict[int, dict[str, Any]] | None] = ContextVar("local_log_keys", default=None)
_BASE = "_local_base_log_format"  # where a formatter keeps its own keys once patched


class _PerInvocationLogKeys:
    """`LambdaPowertoolsFormatter.log_format`, a copy of the formatter's own for each invocation."""

    def __get__(self, formatter: Any, owner: type | None = None) -> Any:
        base = self._base(formatter)
        per_invocation = _INVOCATION_KEYS.get()
        if per_invocation is None:
            return base
        return per_invocation.setdefault(id(formatter), dict(base))

    def __set__(self, formatter: Any, value: dict[str, Any]) -> None:
        per_invocation = _INVOCATION_KEYS.get()
        if per_invocation is None or _BASE not in formatter.__dict__:
            formatter.__dict__[_BASE] = value
        else:
            per_invocation[id(formatter)] = value

    @staticmethod
    def _base(formatter: Any) -> dict[str, Any]:
        # A formatter built before the patch keeps its keys in its instance dict: they become its base.
        if _BASE not in formatter.__dict__:
            formatter.__dict__[_BASE] = formatter.__dict__.pop("log_format", {})
        base: dict[str, Any] = formatter.__dict__[_BASE]
        return base


def _isolate_log_keys() -> None:
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    if not isinstance(LambdaPowertoolsFormatter.__dict__.get("log_format"), _PerInvocationLogKeys):
        LambdaPowertoolsFormatter.log_format = _PerInvocationLogKeys()  # type: ignore[assignment,method-assign]
