"""Write openapi.json: the public API's OpenAPI document as the code describes it now.

python scripts/generate_openapi.py            # rewrite openapi.json
python scripts/generate_openapi.py --check    # exit 1 if openapi.json is out of date
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "core"
API_APP = ROOT / "functions" / "api" / "app.py"
OUTPUT = ROOT / "openapi.json"
MODULE_NAME = "_openapi_api_app"
# Importing the handler builds its module-level objects; none of them calls AWS.
ENVIRONMENT = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "bulksms"}


def load_api_app() -> Any:
    """functions/api/app.py as a module, with the layer on sys.path as in Lambda."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, API_APP)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {API_APP}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def build_document() -> dict[str, Any]:
    module = load_api_app()
    from bulksms.openapi import openapi_document

    return openapi_document(module.app)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs; write nothing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render(build_document())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `python scripts/generate_openapi.py`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
