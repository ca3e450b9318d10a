"""The execution's ETA in the API: none for the first run of a task version (and why), an expected
finish with its range for a run once one has completed."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from .serving import Server, start_demo, wait_status

pytestmark = pytest.mark.integration


def test_the_second_run_of_a_task_has_an_eta_the_first_says_why_not(serve: Callable[..., Server]) -> None:
    server = serve(delay="0.4")
    with server.client() as client:
        first = start_demo(client)
        detail = wait_status(client, first, ("running",))
        assert detail["eta"] is None
        assert "no completed execution" in detail["eta_note"]
        done = wait_status(client, first, ("completed",))
        assert done["eta"] is None
        assert done["eta_note"] == "the execution has ended"
        second = start_demo(client)
        detail = wait_status(client, second, ("running",))
        eta = detail["eta"]
        assert eta is not None, detail["eta_note"]
        assert eta["basis"] == 1
        assert eta["finish_low_at"] <= eta["finish_at"] <= eta["finish_p95_at"]
        assert time.time() - 5 < eta["finish_at"] < time.time() + 60
