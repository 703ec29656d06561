"""The Makefile as the README tells users to run it: the interpreter it picks, and what `make local`
passes on. Nothing here builds a virtualenv: failing runs stop before one, the others print (-n)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from local.run import config_from_args

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None
    return subprocess.run([MAKE, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)


def test_make_local_passes_ports_and_parameters_to_local_run() -> None:
    # -n: print the command only; -o: never rebuild the virtualenv for it.
    made = make(
        "-s", "-n", "-o", ".venv/.installed", "local", "API_PORT=3100", "MOTO_PORT=5100", "SIM_PORT=8199",
        "PARAMETERS=ClickatellBaseUrl=http://127.0.0.1:8299 MaxParts=4",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    words = shlex.split(made.stdout.replace("\\\n", " "))
    config = config_from_args(words[words.index("local.run") + 1 :])
    assert (config.api_port, config.moto_port, config.sim_port) == (3100, 5100, 8199)
    assert config.parameter_overrides == {"ClickatellBaseUrl": "http://127.0.0.1:8299", "MaxParts": "4"}


def _path_without_python(tmp_path: Path) -> dict[str, str]:
    """A PATH whose every pythonX is older than 3.12 (it fails the version check), and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sh").symlink_to("/bin/sh")
    for name in ("python3", "python3.12", "python3.13", "python3.14"):
        fake = bin_dir / name
        fake.write_text("#!/bin/sh\nexit 1\n")
        fake.chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/")}


def test_without_python_3_12_make_says_what_it_needs(tmp_path: Path) -> None:
    made = make(
        "-W", "requirements-dev.txt", "venv", f"VENV={tmp_path}/venv", env=_path_without_python(tmp_path)
    )
    assert made.returncode != 0
    assert "no Python 3.12 or newer on PATH" in made.stderr and "PYTHON=" in made.stderr, made.stderr
    assert not (tmp_path / "venv").exists()


def test_a_given_python_that_is_too_old_is_refused(tmp_path: Path) -> None:
    too_old = tmp_path / "python3.11"
    too_old.write_text("#!/bin/sh\nexit 1\n")
    too_old.chmod(0o755)
    made = make("-W", "requirements-dev.txt", "venv", f"VENV={tmp_path}/venv", f"PYTHON={too_old}")
    assert made.returncode != 0
    assert f"{too_old} is not Python 3.12 or newer" in made.stderr, made.stderr
    assert not (tmp_path / "venv").exists()
