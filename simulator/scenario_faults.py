"""The fault catalogue as the scenario file spells it: what breaks, where, when, how long.

The running schedule lives in ``faults.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from simulator.scenario_types import Duration, Percent, Strict

__all__ = [
    "FAULT_KINDS",
    "CrashFault",
    "ErrorFault",
    "Fault",
    "LatencyFault",
    "PartitionFault",
    "SurgeFault",
    "ThrottleFault",
]


class _FaultBase(Strict):
    target: str
    at: Duration = 0.0
    for_: Duration | None = Field(None, alias="for", description="how long (none: to the end)")

    model_config = Strict.model_config | {"populate_by_name": True}

    def window(self, horizon: float) -> tuple[float, float]:
        end = horizon if self.for_ is None else min(horizon, self.at + self.for_)
        return self.at, end


class LatencyFault(_FaultBase):
    """Every request the target serves takes ``add`` longer and ``multiply`` times as long."""

    kind: Literal["latency"]
    add: Duration = 0.0
    multiply: float = Field(1.0, ge=0.0, le=1_000.0)


class ErrorFault(_FaultBase):
    kind: Literal["error"]
    rate: Percent = 1.0


class CrashFault(_FaultBase):
    """The target is down: it loses in-flight and queued work and refuses connections."""

    kind: Literal["crash"]


class PartitionFault(_FaultBase):
    """The target is unreachable: a black hole until the caller's connect timeout."""

    kind: Literal["partition"]


class ThrottleFault(_FaultBase):
    """The target keeps only ``capacity`` of its workers."""

    kind: Literal["throttle"]
    capacity: Percent = 0.5


class SurgeFault(_FaultBase):
    """A client's arrival rate is multiplied (traffic surge, abusive client)."""

    kind: Literal["surge"]
    multiply: float = Field(2.0, ge=0.0, le=1_000.0)


Fault = Annotated[
    LatencyFault | ErrorFault | CrashFault | PartitionFault | ThrottleFault | SurgeFault,
    Field(discriminator="kind"),
]
FAULT_KINDS = ("latency", "error", "crash", "partition", "throttle", "surge")
