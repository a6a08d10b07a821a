"""The settings ``murphy tune`` searches: one call's timeout, retries, budget and breaker.

A *dimension* is one field of the call, with the values to try; the file's own
value is always among them, so the file's settings are a candidate and the tuner
can answer "keep what you have". Values are typed (seconds, a count, a fraction,
or None where the field can be absent) and spelled back as the file spells them
(``250ms``, ``10%``, ``null``) for ``simulator.variants`` overrides.

Default values sit around the call's current settings: the timeout at a quarter,
a half, once, twice and four times its value (1 s when it has none); one to four
attempts; no retry budget, 10% and Envoy's 20%; a rate breaker's threshold at 25%,
50% and 75%, or a simple breaker's failure count halved and doubled. A call with
no breaker gets none (a breaker is a design decision, not a setting); ask for one
with ``--space breaker.failure_rate=...``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator.scenario import Scenario
from simulator.scenario_nodes import call_edge_names
from simulator.units import format_duration, format_percent, parse_duration, parse_percent

__all__ = [
    "FIELDS",
    "CallRef",
    "Dimension",
    "SpaceError",
    "candidate_settings",
    "default_space",
    "find_call",
    "parse_space",
    "spell",
]

FIELDS = (
    "timeout",
    "retry.attempts",
    "retry.budget.percent",
    "breaker.failure_rate",
    "breaker.failures",
)
ALIASES = {
    "attempts": "retry.attempts",
    "budget": "retry.budget.percent",
    "retry.budget": "retry.budget.percent",
    "failure_rate": "breaker.failure_rate",
    "failures": "breaker.failures",
}
NULLABLE = ("timeout", "retry.budget.percent")
RANGE_POINTS = 5
MAX_VALUES = 20  # per dimension
MAX_ATTEMPTS = 100  # Retry.attempts' own bound


class SpaceError(ValueError):
    """A call or a space that cannot be searched; the message says what to give instead."""


@dataclass(frozen=True)
class CallRef:
    """One call of the scenario: its caller, its index in the caller's calls, its edge name."""

    node: str
    index: int
    edge: str

    def path(self, field: str) -> str:
        return f'nodes["{self.node}"].calls[{self.index}].{field}'


@dataclass(frozen=True)
class Dimension:
    """One field of the call and the values to try (the file's own among them)."""

    field: str
    values: tuple[Any, ...]
    current: Any


def find_call(scenario: Scenario, edge: str) -> CallRef:
    """The call named ``caller->callee`` (``#index`` for a second call to the same node)."""
    names: list[CallRef] = []
    for name, node in scenario.nodes.items():
        for i, spelled in enumerate(call_edge_names(name, node.calls)):
            names.append(CallRef(name, i, spelled))
    wanted = edge.replace(" ", "")
    for ref in names:
        if ref.edge == wanted:
            return ref
    shown = ", ".join(r.edge for r in names[:12]) + (" …" if len(names) > 12 else "")
    if not names:
        raise SpaceError("the scenario has no call to tune")
    raise SpaceError(f"no call {edge!r}: the calls are {shown}")


def _call(scenario: Scenario, ref: CallRef) -> Any:
    return scenario.nodes[ref.node].calls[ref.index]


def current_value(call: Any, field: str) -> Any:
    """The call's value of ``field`` (None: the field, or its policy, is absent)."""
    if field == "timeout":
        return call.timeout
    if field == "retry.attempts":
        return call.retry.attempts if call.retry is not None else 1
    if field == "retry.budget.percent":
        budget = call.retry.budget if call.retry is not None else None
        return budget.percent if budget is not None else None
    if call.breaker is None:
        return None
    return getattr(call.breaker, field.removeprefix("breaker."))


def spell(field: str, value: Any) -> str:
    """A typed value as the scenario file spells it."""
    if value is None:
        return "null"
    if field == "timeout":
        return format_duration(value)
    if field in ("retry.budget.percent", "breaker.failure_rate"):
        return format_percent(value)
    return str(int(value))


def _nice(seconds: float) -> float:
    """Three significant digits: 0.125 s stays, 0.3333 s becomes 0.333 s."""
    if seconds <= 0:
        return seconds
    digits = 2 - math.floor(math.log10(seconds))
    return round(seconds, digits)


def _with_current(values: Sequence[Any], current: Any) -> tuple[Any, ...]:
    found = list(dict.fromkeys(values))
    if current not in found:
        found.append(current)
    return tuple(sorted(found, key=lambda v: (v is None, v if v is not None else 0)))


def default_space(scenario: Scenario, ref: CallRef) -> list[Dimension]:
    """The dimensions searched when none are given (see the module's doc)."""
    call = _call(scenario, ref)
    base = call.timeout if call.timeout is not None else 1.0
    timeouts = [_nice(base * f) for f in (0.25, 0.5, 1.0, 2.0, 4.0)]
    dims = [
        Dimension("timeout", _with_current(timeouts, call.timeout), call.timeout),
        Dimension(
            "retry.attempts",
            _with_current([1, 2, 3, 4], current_value(call, "retry.attempts")),
            current_value(call, "retry.attempts"),
        ),
    ]
    budget = current_value(call, "retry.budget.percent")
    dims.append(Dimension("retry.budget.percent", _with_current([None, 0.1, 0.2], budget), budget))
    if call.breaker is not None and call.breaker.failures is None:
        rate = call.breaker.failure_rate
        dims.append(Dimension("breaker.failure_rate", _with_current([0.25, 0.5, 0.75], rate), rate))
    elif call.breaker is not None:
        n = call.breaker.failures
        dims.append(Dimension("breaker.failures", _with_current([max(1, n // 2), n, 2 * n], n), n))
    return dims


def _typed(field: str, raw: str) -> Any:
    text = raw.strip()
    if text.lower() in ("none", "null", "~"):
        if field not in NULLABLE:
            raise SpaceError(f"{field} cannot be none (only timeout and retry.budget.percent)")
        return None
    try:
        if field == "timeout":
            value: Any = parse_duration(text)
            if value <= 0:
                raise ValueError("a timeout must be above zero")
        elif field in ("retry.budget.percent", "breaker.failure_rate"):
            value = parse_percent(text)
            if not 0.0 < value <= 1.0:
                raise ValueError("give a share above 0% and at most 100%")
        else:
            value = int(text)
            top = MAX_ATTEMPTS if field == "retry.attempts" else 1_000_000
            if not 1 <= value <= top:
                raise ValueError(f"give a whole number from 1 to {top}")
    except ValueError as exc:
        raise SpaceError(f"{field}={text}: {exc}") from None
    return value


def _range(field: str, low: Any, high: Any) -> list[Any]:
    if low is None or high is None or not low < high:
        raise SpaceError(f"{field}: a range LOW..HIGH needs LOW below HIGH")
    if field == "timeout":  # latencies spread over orders of magnitude: log-spaced
        ratio = (high / low) ** (1 / (RANGE_POINTS - 1))
        return [_nice(low * ratio**i) for i in range(RANGE_POINTS - 1)] + [high]
    if isinstance(low, int):
        step = max(1, math.ceil((high - low) / (RANGE_POINTS - 1)))
        return [*range(low, high, step), high]
    return [round(low + (high - low) * i / (RANGE_POINTS - 1), 6) for i in range(RANGE_POINTS)]


def parse_space(
    texts: Sequence[str], scenario: Scenario, ref: CallRef, keep_defaults: bool = True
) -> list[Dimension]:
    """``FIELD=V1,V2`` or ``FIELD=LOW..HIGH`` (five points; log-spaced for the timeout).

    Each text replaces that field's default dimension; the others stay (unless
    ``keep_defaults`` is False). The call's current value is always added.
    """
    call = _call(scenario, ref)
    given: dict[str, Dimension] = {}
    for text in texts:
        name, sep, rest = text.partition("=")
        field = ALIASES.get(name.strip(), name.strip())
        if not sep or field not in FIELDS:
            raise SpaceError(
                f"{text!r}: write FIELD=V1,V2 or FIELD=LOW..HIGH with FIELD one of "
                f"{', '.join(FIELDS)}"
            )
        if ".." in rest:
            low, _, high = rest.partition("..")
            values = _range(field, _typed(field, low), _typed(field, high))
        else:
            values = [_typed(field, v) for v in rest.split(",") if v.strip()]
        if not values:
            raise SpaceError(f"{text!r}: no values")
        current = current_value(call, field)
        dim = Dimension(field, _with_current(values, current), current)
        if len(dim.values) > MAX_VALUES:
            raise SpaceError(f"{field}: at most {MAX_VALUES} values")
        given[field] = dim
    dims = default_space(scenario, ref) if keep_defaults else []
    merged = {d.field: d for d in dims}
    if any(f.startswith("breaker.") for f in given):  # one breaker field replaces the other
        merged = {f: d for f, d in merged.items() if not f.startswith("breaker.")}
    merged.update(given)
    if "breaker.failure_rate" in merged and "breaker.failures" in merged:
        raise SpaceError("tune breaker.failure_rate or breaker.failures, not both")
    return [merged[f] for f in FIELDS if f in merged]


def candidate_settings(space: Sequence[Dimension]) -> list[dict[str, Any]]:
    """Every combination of the dimensions' values, the file's own settings first; a retry
    budget is left as it is where there is a single attempt (nothing to budget)."""
    current = {d.field: d.current for d in space}
    seen: set[tuple[Any, ...]] = set()
    out = []
    for combo in itertools.product(*(d.values for d in space)):
        settings = dict(zip((d.field for d in space), combo, strict=True))
        if settings.get("retry.attempts", 2) == 1 and "retry.budget.percent" in settings:
            settings["retry.budget.percent"] = current["retry.budget.percent"]
        key = tuple(settings.values())
        if key not in seen:
            seen.add(key)
            out.append(settings)
    out.sort(key=lambda s: s != current)  # stable: the baseline first, the rest in grid order
    return out


def overrides_of(ref: CallRef, settings: dict[str, Any], current: dict[str, Any]) -> dict[str, str]:
    """The ``simulator.variants`` overrides that turn the file's call into ``settings``."""
    out: dict[str, str] = {}
    for field, value in settings.items():
        if value == current[field]:
            continue
        if field == "retry.budget.percent" and value is None:
            out[ref.path("retry.budget")] = "null"
        else:
            out[ref.path(field)] = spell(field, value)
    return out
