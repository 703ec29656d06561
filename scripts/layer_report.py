"""What goes into the core layer, what it weighs, and whether the functions need each part of it.

Builds the layer the way `sam build` does for python3.12 on arm64 (pip install of
layers/core/requirements.txt for manylinux2014_aarch64, binary wheels only, plus the bulksms package),
lists every distribution with its top-level packages and size, and follows the functions' imports
statically (an ast walk from each functions/*/app.py, through the layer) to tell which distributions
are needed. boto3/botocore must not be in the layer: the Lambda runtime provides them.

    python scripts/layer_report.py             # report
    python scripts/layer_report.py --check     # also exit 1 on an unneeded or runtime-provided package
    python scripts/layer_report.py --json out.json
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess  # nosec B404 - runs pip with a fixed command line
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "core"
REQUIREMENTS = LAYER / "requirements.txt"
FUNCTIONS = sorted(path.parent for path in (ROOT / "functions").glob("*/app.py"))
PIP_PLATFORM = [
    "--platform",
    "manylinux2014_aarch64",
    "--only-binary=:all:",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
]
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"}
MUST_NOT_SHIP = {"boto3", "botocore", "s3transfer"}  # the runtime has them; shipping them only adds weight
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all layers
# Sub-packages worth naming when they are large and never imported by name.
BIG_SUBPACKAGE_BYTES = 1024 * 1024


@dataclass
class Distribution:
    name: str
    version: str
    top_level: list[str]
    size: int
    imported_by: list[str] = field(default_factory=list)
    unimported_subpackages: dict[str, int] = field(default_factory=dict)

    @property
    def needed(self) -> bool:
        return bool(self.imported_by)


def build(target: Path) -> None:
    """pip install the requirements for the Lambda platform, then add the layer's own package."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        *PIP_PLATFORM,
        "-r",
        str(REQUIREMENTS),
    ]
    subprocess.run(command, check=True)  # noqa: S603  # nosec B603 - a fixed pip command line
    for package in sorted(p for p in LAYER.iterdir() if (p / "__init__.py").exists()):
        shutil.copytree(package, target / package.name, ignore=shutil.ignore_patterns("__pycache__"))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def distributions(target: Path) -> list[Distribution]:
    found: list[Distribution] = []
    claimed: set[str] = set()
    for dist_info in sorted(target.glob("*.dist-info")):
        name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
        record = dist_info / "RECORD"
        paths = [line.split(",")[0] for line in record.read_text().splitlines() if line.strip()]
        tops = sorted(
            {
                path.split("/")[0].removesuffix(".py")
                for path in paths
                if not path.split("/")[0].endswith((".dist-info", ".data")) and not path.startswith("..")
            }
        )
        size = sum(_size(target / path) for path in paths if (target / path).is_file())
        found.append(Distribution(name, version, tops, size))
        claimed.update(path.split("/")[0] for path in paths)
    for entry in sorted(target.iterdir()):  # the layer's own packages (no dist-info)
        if entry.name not in claimed and entry.name != "bin" and not entry.name.endswith(".dist-info"):
            found.append(Distribution(entry.name, "(source)", [entry.name.removesuffix(".py")], _size(entry)))
    return found


def _module_file(target: Path, name: str) -> Path | None:
    base = target.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Absolute names of what a module imports at run time (anywhere but `if TYPE_CHECKING:`)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names if alias.name != "*")


def imported_modules(target: Path, app: Path) -> set[str]:
    """Every module the function's code imports, directly or through the layer's modules, as far as
    static analysis can follow: imports inside functions count, `if TYPE_CHECKING:` ones do not,
    and importlib by name is invisible. Modules outside the layer are leaves."""
    seen: set[str] = set()
    pending: list[tuple[str, Path]] = [("__main__", app)]
    while pending:
        module, path = pending.pop()
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for name in _imports(tree, module, path.name == "__init__.py"):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                prefix = ".".join(parts[:depth])
                if prefix in seen:
                    continue
                found = _module_file(target, prefix)
                if found is None and (target / parts[0]).exists() and depth > 1:
                    continue  # `from package import name` where name is not a module
                seen.add(prefix)
                if found is not None:
                    pending.append((prefix, found))
    return seen


def _subpackages(target: Path, top: str) -> dict[str, int]:
    root = target / top
    if not root.is_dir():
        return {}
    return {f"{top}.{p.name}": _size(p) for p in root.iterdir() if p.is_dir() and p.name != "__pycache__"}


def analyse(target: Path) -> tuple[list[Distribution], dict[str, set[str]]]:
    dists = distributions(target)
    by_function = {app.name: imported_modules(target, app / "app.py") for app in FUNCTIONS}
    for dist in dists:
        for function, modules in by_function.items():
            if any(module.split(".")[0] in dist.top_level for module in modules):
                dist.imported_by.append(function)
        if dist.needed:
            reached = set().union(*by_function.values())
            for top in dist.top_level:
                for sub, size in _subpackages(target, top).items():
                    if size >= BIG_SUBPACKAGE_BYTES and not any(
                        m == sub or m.startswith(sub + ".") for m in reached
                    ):
                        dist.unimported_subpackages[sub] = size
    return dists, by_function


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:7.2f} MB"


def report(dists: list[Distribution], by_function: dict[str, set[str]]) -> tuple[str, list[str]]:
    lines = [f"{'distribution':<28} {'version':<12} {'size':>10}  needed by / top-level packages"]
    problems: list[str] = []
    for dist in sorted(dists, key=lambda d: -d.size):
        users = ", ".join(dist.imported_by) or "NOBODY"
        lines.append(
            f"{dist.name:<28} {dist.version:<12} {_mb(dist.size)}  {users}  [{', '.join(dist.top_level)}]"
        )
        for sub, size in sorted(dist.unimported_subpackages.items(), key=lambda kv: -kv[1]):
            lines.append(f"{'':<28} {'':<12} {_mb(size)}    {sub}: never imported by name")
        if not dist.needed:
            problems.append(f"{dist.name}: in the layer but no function imports it")
        if {top.lower() for top in dist.top_level} & MUST_NOT_SHIP:
            problems.append(f"{dist.name}: the Lambda runtime provides it; do not ship it in the layer")
    total = sum(d.size for d in dists)
    lines.append(f"{'total':<28} {'':<12} {_mb(total)}  (Lambda allows {_mb(LAMBDA_UNZIPPED_LIMIT).strip()})")
    shipped = {top for d in dists for top in d.top_level}
    outside = sorted(
        {
            module.split(".")[0]
            for modules in by_function.values()
            for module in modules
            if module.split(".")[0] not in shipped and module.split(".")[0] in RUNTIME_PROVIDED
        }
    )
    if outside:
        lines.append(f"imported from the Lambda runtime, not the layer: {', '.join(outside)}")
    return "\n".join(lines), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a package is unneeded or runtime-provided"
    )
    parser.add_argument("--json", type=Path, help="also write the analysis as JSON")
    parser.add_argument("--keep", type=Path, help="build into this directory and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulksms-layer-") as scratch:
        target = args.keep or Path(scratch) / "python"
        if target.exists():
            shutil.rmtree(target)
        build(target)
        dists, by_function = analyse(target)
    text, problems = report(dists, by_function)
    print(text)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if args.json:
        payload = {"distributions": [{**asdict(d), "needed": d.needed} for d in dists], "problems": problems}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if args.check and problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
