"""Load each function's real handler from its code directory, with the layer on the import path."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

from local.template import FunctionDefinition

Handler = Callable[[dict[str, Any], Any], Any]


_loaded: dict[str, Handler] = {}


def load_handler(function: FunctionDefinition) -> Handler:
    """Import `CodeUri/<module>.py` once, under a name of its own (every function's module is `app`)."""
    if function.logical_id in _loaded:
        return _loaded[function.logical_id]
    for layer in function.layer_dirs:
        if str(layer) not in sys.path:
            sys.path.insert(0, str(layer))
    path = function.code_dir / f"{function.handler_module.replace('.', '/')}.py"
    module_name = f"_function_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, function.handler_attr)
    _loaded[function.logical_id] = handler
    return handler
