"""Load each function's real handler from its code directory, with the layer on the import path."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from local.template import FunctionDefinition

Handler = Callable[[dict[str, Any], Any], Any]


def load_module(function: FunctionDefinition, module_name: str | None = None) -> ModuleType:
    """Import `CodeUri/<module>.py` once, under a name of its own (every function's module is `app`),
    with the function's layers on the import path as in Lambda. A tool that imports it outside the
    stack's environment passes a name of its own, so the stack still gets a module built in its own."""
    module_name = module_name or f"_function_{function.logical_id}"
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
    spec.loader.exec_module(module)
    return module


def load_handler(function: FunctionDefinition) -> Handler:
    handler: Handler = getattr(load_module(function), function.handler_attr)
    return handler
