"""The fault catalogue as the scenario file spells it: what breaks, where, when, how long.

Each kind's spec also carries how it is shown (``colour``, ``label``), read by the
plots and by the app's timeline alike, and which nodes it may target. What a
fault does to the running world is its effect in ``fault_kinds.py``; the
schedule that starts and stops effects lives in ``faults.py``.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import Field, field_validator

from simulator.scenario_types import Duration, Percent, Strict
from simulator.units import format_duration

__all__ = [
    "FAULT_COLOURS",
    "FAULT_KINDS",
    "FAULT_SPECS",
    "BadDeployFault",
    "CorruptionFault",
    "CrashFault",
    "DiskFullFault",
    "ErrorFault",
    "Fault",
    "LatencyFault",
    "MemoryLeakFault",
    "MessageDropFault",
    "PartitionFault",
    "SurgeFault",
    "ThrottleFault",
    "frequency_per_year",
]

# How many of each period make a year: the report's probability column reads a fault's
# ``frequency`` as occurrences per year.
_PERIODS = {"year": 1.0, "quarter": 4.0, "month": 12.0, "week": 365.25 / 7, "day": 365.25}
_FREQUENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(year|quarter|month|week|day)s?\s*$")


def frequency_per_year(text: str) -> float:
    """Occurrences per year of a frequency such as ``"2/year"`` or ``"1/month"``."""
    match = _FREQUENCY.match(text)
    if match is None:
        raise ValueError(
            f"frequency {text!r} is not COUNT/PERIOD: write e.g. '2/year', '1/month', "
            "'0.5/year' (periods: year, quarter, month, week, day)"
        )
    count = float(match.group(1))
    if not 0 < count <= 10_000:
        raise ValueError(f"frequency {text!r}: the count must be above 0 and at most 10000")
    return count * _PERIODS[match.group(2)]


class _FaultBase(Strict):
    targets: ClassVar[tuple[str, ...] | None] = None
    """The node kinds this fault may target (None: any node that serves requests)."""
    target_text: ClassVar[str] = "a node that serves requests"
    colour: ClassVar[str] = "#adb5bd"
    """Its colour on the timeline and in the plots' shading."""

    target: str
    at: Duration = 0.0
    for_: Duration | None = Field(None, alias="for", description="how long (none: to the end)")
    frequency: str | None = Field(
        None,
        max_length=40,
        description="how often this failure happens in production, e.g. '2/year' or '1/month': "
        "the failure-mode report's probability and RPN (none: left blank for you to fill)",
    )

    model_config = Strict.model_config | {"populate_by_name": True}

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str | None) -> str | None:
        if value is not None:
            frequency_per_year(value)
        return value

    def window(self, horizon: float) -> tuple[float, float]:
        end = horizon if self.for_ is None else min(horizon, self.at + self.for_)
        return self.at, end

    def label(self) -> str:
        """A few words for a badge or a timeline bar: 'latency +2s', 'errors 30%'."""
        return str(getattr(self, "kind", "fault"))


class LatencyFault(_FaultBase):
    """Every request the target serves takes ``add`` longer and ``multiply`` times as long."""

    colour: ClassVar[str] = "#f4a261"
    kind: Literal["latency"]
    add: Duration = 0.0
    multiply: float = Field(1.0, ge=0.0, le=1_000.0)

    def label(self) -> str:
        if self.add:
            return f"latency +{format_duration(self.add)}"
        return f"latency ×{self.multiply:g}" if self.multiply != 1 else "latency"


class ErrorFault(_FaultBase):
    """A share of the target's requests fail (the worst of overlapping error faults wins)."""

    colour: ClassVar[str] = "#e76f51"
    kind: Literal["error"]
    rate: Percent = 1.0

    def label(self) -> str:
        return f"errors {self.rate * 100:.0f}%"


class CrashFault(_FaultBase):
    """The target is down: it loses in-flight and queued work and refuses connections."""

    colour: ClassVar[str] = "#9b2226"
    kind: Literal["crash"]


class PartitionFault(_FaultBase):
    """The target is unreachable: a black hole until the caller's connect timeout."""

    targets: ClassVar[tuple[str, ...] | None] = (
        "service", "database", "third_party", "balancer", "cache", "broker", "consumer",
    )  # fmt: skip
    """Not a relay: nothing calls it; cut off, its own calls would fail (use a fault on them)."""
    colour: ClassVar[str] = "#6d597a"
    kind: Literal["partition"]


class ThrottleFault(_FaultBase):
    """The target keeps only ``capacity`` of its workers."""

    colour: ClassVar[str] = "#e9c46a"
    kind: Literal["throttle"]
    capacity: Percent = 0.5

    def label(self) -> str:
        return f"throttled to {self.capacity * 100:.0f}%"


class SurgeFault(_FaultBase):
    """A client's arrival rate is multiplied (traffic surge, abusive client)."""

    targets: ClassVar[tuple[str, ...] | None] = ("client",)
    target_text: ClassVar[str] = "a client"
    colour: ClassVar[str] = "#2a9d8f"
    kind: Literal["surge"]
    multiply: float = Field(2.0, ge=0.0, le=1_000.0)

    def label(self) -> str:
        return f"surge ×{self.multiply:g}"


class MessageDropFault(_FaultBase):
    """A broker loses a share of the messages published to it.

    ``after_ack``: the publisher got its acknowledgement, so nobody retries: the
    message is lost (an unreplicated write, a page-cache flush that never came).
    ``before_ack``: the publish fails, so a publisher that retries recovers it.
    """

    targets: ClassVar[tuple[str, ...] | None] = ("broker",)
    target_text: ClassVar[str] = "a broker"
    colour: ClassVar[str] = "#b5179e"
    kind: Literal["message_drop"]
    rate: Percent = Field(0.01, description="share of published messages dropped")
    when: Literal["after_ack", "before_ack"] = Field(
        "after_ack",
        description="after_ack: acknowledged, then lost (nobody retries); before_ack: the "
        "publish fails (a retrying publisher recovers it)",
    )

    def label(self) -> str:
        return f"drop {self.rate * 100:.3g}% {self.when.replace('_', ' ')}"


class CorruptionFault(_FaultBase):
    """A bug in the target: a share of its writes to databases carry invalid data.

    The target is the node that writes (its calls with ``writes: true`` to a
    database). Each such write, while the fault lasts, is bad with probability
    ``rate``; validation layers may catch it, else it is stored corrupt.
    """

    targets: ClassVar[tuple[str, ...] | None] = ("client", "service", "consumer")
    target_text: ClassVar[str] = "a node that writes to a database (a call with writes: true)"
    colour: ClassVar[str] = "#606c38"
    kind: Literal["corruption"]
    rate: Percent = Field(0.01, description="share of the target's writes that carry invalid data")

    def label(self) -> str:
        return f"corrupt {self.rate * 100:.3g}% of writes"


class MemoryLeakFault(_FaultBase):
    """The target's code leaks memory while the fault lasts; only a restart gives it back.

    The leak is in the code: after an OOM kill the restarted process leaks again
    while the fault lasts, so a long leak makes a sawtooth of periodic OOM kills.
    """

    targets: ClassVar[tuple[str, ...] | None] = ("service", "database")
    target_text: ClassVar[str] = "a service or database with a memory model (memory:)"
    colour: ClassVar[str] = "#8d6e63"
    kind: Literal["memory_leak"]
    mb_per_s: float = Field(1.0, gt=0, le=1e6, description="memory leaked per second (MB/s)")

    def label(self) -> str:
        return f"leak {self.mb_per_s:g} MB/s"


class DiskFullFault(_FaultBase):
    """The target's disk is full: writes fail fast, reads keep working.

    A write is a job sent by a call with ``writes: true``, or any publish to a
    broker; while the disk is full it fails at arrival (no worker, no queue) with
    the error kind ``disk_full``. Writes already queued or in service when the disk
    fills finish as usual; a broker keeps delivering the messages it holds.
    """

    targets: ClassVar[tuple[str, ...] | None] = ("service", "database", "broker")
    target_text: ClassVar[str] = "a service, a database or a broker"
    colour: ClassVar[str] = "#7f5539"
    kind: Literal["disk_full"]

    def label(self) -> str:
        return "disk full"


class BadDeployFault(_FaultBase):
    """The version a deploy of the target ships is bad: the requests it serves fail, are
    slow, meet a crash loop or leak memory.

    Its ``at`` falls in the window of a deploy of the target (usually the deploy's
    start); only the requests routed to that version feel it, so a canary at 5% shows 5%
    of its harm, and a rollback ends it. ``for`` bounds how long the bug lasts (none: as
    long as the version runs).
    """

    targets: ClassVar[tuple[str, ...] | None] = ("service",)
    target_text: ClassVar[str] = "a service that a deploy targets"
    colour: ClassVar[str] = "#c9184a"
    kind: Literal["bad_deploy"]
    error_rate: Percent = Field(
        0.0, description="share of the new version's requests that fail (error kind bad_version)"
    )
    add: Duration = Field(0.0, le=1e6, description="latency the new version adds to each request")
    multiply: float = Field(
        1.0, ge=0.0, le=1_000.0, description="the new version's service time is this many times"
    )
    crash_loop: bool = Field(
        False,
        description="the new version's instances crash as they start: its share of the traffic "
        "is refused at once (error kind crash_loop) and its share of the workers is lost",
    )
    leak_mb_per_s: float = Field(
        0.0, ge=0.0, le=1e6,
        description="memory the new version leaks per second at full traffic, in proportion to "
        "its share (needs the service's memory model)",
    )  # fmt: skip

    def label(self) -> str:
        parts = []
        if self.error_rate:
            parts.append(f"errors {self.error_rate * 100:.3g}%")
        if self.add:
            parts.append(f"+{format_duration(self.add)}")
        if self.multiply != 1:
            parts.append(f"×{self.multiply:g}")
        if self.crash_loop:
            parts.append("crash loop")
        if self.leak_mb_per_s:
            parts.append(f"leak {self.leak_mb_per_s:g} MB/s")
        return "bad deploy" + (": " + ", ".join(parts) if parts else "")


_FAULT_CLASSES = (
    LatencyFault, ErrorFault, CrashFault, PartitionFault, ThrottleFault, SurgeFault,
    MessageDropFault, CorruptionFault, MemoryLeakFault, DiskFullFault, BadDeployFault,
)  # fmt: skip
Fault = Annotated[
    LatencyFault
    | ErrorFault
    | CrashFault
    | PartitionFault
    | ThrottleFault
    | SurgeFault
    | MessageDropFault
    | CorruptionFault
    | MemoryLeakFault
    | DiskFullFault
    | BadDeployFault,
    Field(discriminator="kind"),
]
FAULT_SPECS: dict[str, type[_FaultBase]] = {
    get_args(cls.model_fields["kind"].annotation)[0]: cls for cls in _FAULT_CLASSES
}
"""Each fault kind's spec class, by kind, in the order menus list them."""
FAULT_KINDS = tuple(FAULT_SPECS)
FAULT_COLOURS = {kind: cls.colour for kind, cls in FAULT_SPECS.items()}
"""One colour per fault kind, for the plots' shading and the app's timeline alike."""
