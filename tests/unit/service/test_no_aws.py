"""The services and their unit tests run without AWS: importing every service module and every module
of these tests loads no boto3, no moto and nothing of botocore, checked in a fresh interpreter (the
test process has loaded them for other tests). A service that imports an AWS adapter fails here: it
takes the port (domain/ports.py) instead."""

from __future__ import annotations

from tests.unit.fresh_imports import ROOT, modules_loaded_by

_IMPORT_ALL = """
import importlib, pkgutil
import bulksms.service, tests.unit.service
for package in (bulksms.service, tests.unit.service):
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
"""


def test_the_services_and_their_tests_import_no_aws_library() -> None:
    loaded = modules_loaded_by(_IMPORT_ALL, ROOT / "layers" / "core", ROOT)
    assert {"bulksms.service.submission", "tests.unit.service.conftest"} <= loaded  # the imports ran
    # Bare `botocore` only: powertools' Logger imports the package to learn whether it may add its
    # user agent to boto3 calls, and loads nothing of it.
    aws = sorted(
        name
        for name in loaded
        if name.partition(".")[0] in ("boto3", "moto")
        or name.startswith(("botocore.", "bulksms.adapters.aws"))
    )
    assert aws == []
