"""Shared fixtures. Each test module sets ``pytestmark`` to its group (unit, integration, ...).

Hypothesis runs under one of two profiles, chosen by ``HYPOTHESIS_PROFILE`` (``ci`` where ``CI`` is set,
``dev`` otherwise):

- ``ci``: the same examples on every run (derandomized, no example database), so a red build is
  reproducible and a green one does not turn red on its own; failures print the blob to reproduce them.
- ``dev``: random examples, remembered in ``.hypothesis/``, to find new failures while working.

Neither has a deadline: on a loaded machine a slow example is not a failing one (the per-test timeout
of pytest-timeout still catches a hang). A test's own ``@settings`` override the profile.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None, derandomize=True, database=None, max_examples=100,
                          print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
