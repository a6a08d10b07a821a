"""Fixtures for the policy tests."""

from __future__ import annotations

import pytest
from policy_fake_scheduler import FakeScheduler


@pytest.fixture
def sched() -> FakeScheduler:
    return FakeScheduler()
