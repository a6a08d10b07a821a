"""Building blocks of the scenario schema: unit-bearing numbers and distributions.

Each unit type parses what a person writes (``"250ms"``) into a plain float and
serialises back to the same spelling, so the model holds numbers while the file
holds words.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from simulator.units import (
    format_duration,
    format_percent,
    format_rate,
    parse_duration,
    parse_percent,
    parse_rate,
)

__all__ = [
    "DIST_KINDS",
    "Constant",
    "Distribution",
    "Duration",
    "Exponential",
    "LogNormal",
    "Percent",
    "Rate",
    "Strict",
    "Uniform",
    "distribution_mean",
    "lognormal_sigma",
]


def _json_schema(pattern: str, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": pattern}, {"type": "number", "minimum": 0}],
            "examples": [example],
        }
    )


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    _json_schema(r"^\s*[0-9.eE+-]+\s*(us|µs|ms|s|min|m|h)\s*$", "250ms"),
]
"""Seconds; written ``250ms``, ``2s``, ``1.5min`` or a bare number of seconds."""

Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    PlainSerializer(format_rate, return_type=str),
    _json_schema(r"^\s*[0-9.eE+-]+\s*/\s*(sec|s|min|m|h)\s*$", "400/s"),
]
"""Events per second; written ``400/s``, ``1200/min`` or a bare number."""

Percent = Annotated[
    float,
    BeforeValidator(parse_percent),
    PlainSerializer(format_percent, return_type=str),
    _json_schema(r"^\s*[0-9.eE+-]+\s*%\s*$", "50%"),
]
"""A fraction in [0, 1]; written ``50%`` or ``0.5``."""


class Strict(BaseModel):
    """Base of every schema model: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class Exponential(Strict):
    """Memoryless service or think time (M in Kendall's notation)."""

    dist: Literal["exponential"]
    mean: Duration


class Constant(Strict):
    """Deterministic time (D in Kendall's notation)."""

    dist: Literal["constant"]
    value: Duration


class Uniform(Strict):
    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be at least low")
        return self


class LogNormal(Strict):
    """Heavy-tailed latency given as people measure it: a median and a p99."""

    dist: Literal["lognormal"]
    median: Duration
    p99: Duration

    @model_validator(mode="after")
    def _ordered(self) -> LogNormal:
        if self.p99 < self.median:
            raise ValueError("p99 must be at least the median")
        return self


Distribution = Annotated[
    Exponential | Constant | Uniform | LogNormal,
    Field(discriminator="dist"),
]


DIST_KINDS = ("exponential", "constant", "uniform", "lognormal")
"""The ``dist`` tags: a validation error's location names them; a file's path does not."""


def distribution_mean(dist: Exponential | Constant | Uniform | LogNormal) -> float:
    """Mean in seconds, for analytic cross-checks and capacity estimates."""
    if isinstance(dist, Exponential):
        return dist.mean
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2
    sigma = lognormal_sigma(dist)
    return dist.median * math.exp(sigma * sigma / 2)


def lognormal_sigma(dist: LogNormal) -> float:
    """The shape parameter that puts the given p99 at the 99th percentile."""
    z99 = 2.3263478740408408
    if dist.median <= 0 or dist.p99 <= dist.median:
        return 0.0
    return math.log(dist.p99 / dist.median) / z99
