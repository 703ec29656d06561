"""Test-wide settings: hypothesis checks what a function computes, never how fast (timing is the
bench's), so its per-example deadline is off; under a loaded machine it only made examples flaky."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("bulksms", deadline=None)
settings.load_profile("bulksms")
