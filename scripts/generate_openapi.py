"""Write openapi.json: the public API's OpenAPI document as the code describes it now.

python scripts/generate_openapi.py            # rewrite openapi.json
python scripts/generate_openapi.py --check    # exit 1 if openapi.json is out of date
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `local` importable
    sys.path.insert(0, str(ROOT))

from local.functions import load_module  # noqa: E402
from local.template import load_template  # noqa: E402

OUTPUT = ROOT / "openapi.json"
# Importing the handler builds its module-level objects; none of them calls AWS.
ENVIRONMENT = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "bulksms"}


def _load(logical_id: str) -> Any:
    """A function's module, loaded as the local stack loads it (layer on sys.path)."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    function = load_template(ROOT / "template.yaml").function(logical_id)
    return load_module(function, f"_openapi_{logical_id}")


def build_document() -> dict[str, Any]:
    api = _load("ApiFunction").app
    from bulksms.openapi import openapi_document

    # The functions Clickatell calls on their function URL: their routes are public too.
    template = load_template(ROOT / "template.yaml")
    url_apps = [_load(f.logical_id).app for f in template.functions() if f.function_url]
    return openapi_document(api, *url_apps)


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
