"""A fast analytic preview of the metastability map: a fluid model of one service.

Where the simulated map runs two whole simulations per cell and replication, the
preview integrates one ordinary differential equation per cell, in the spirit of
the fluid approximations of the formal analyses of metastable failures (Bronson et
al., "Metastable failures in distributed systems", HotOS 2021; and the 2025 work
that models retries and timeouts as a queue whose arrival rate depends on its
own length). It is meant to be wrong in an instructive way: where it disagrees
with the simulation, randomness is what decides (a queue's fluctuations near the
boundary), which no fluid model has.

The model: one open-loop client (rate λ, surged by a surge fault on it) calls one
service (c workers of mean service time s: capacity μ = c / s, scaled by a
throttle, zeroed by a crash, slowed by a latency fault on it). Q(t) is the work
in the service (queued or in service), as a fluid::

    dQ/dt = λ(t) + R(t) − min(μ(t), Q / s(t))
    W(t)  = Q / μ(t)                           the time a new arrival would spend
    R(t)  = retries/s while W > T (the call's timeout): (k − 1)·λ with k attempts,
            at most λ·p / (1 − p) with a retry budget of p; 0 otherwise

A timeout does not cancel the work, so abandoned attempts stay in Q, as in the
engine. Backoff is ignored (retries are immediate): a preview of the worst case.
The trigger has recovered once the fluid's excess backlog over the run without
the trigger is below one service time's worth of work (c), for good; it never
recovers when that does not happen before the end of the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator.scenario import Scenario
from simulator.variants import variant_grid

__all__ = ["FluidModel", "fluid_model", "fluid_recovery", "preview_data", "preview_map"]

STEPS_PER_SECOND = 50  # Euler steps of 20 ms: a service time of 100 ms is five steps


@dataclass(frozen=True)
class FluidModel:
    """The few numbers the fluid needs, read from a scenario."""

    rate: float  # λ, requests/s
    workers: float  # c
    service: float  # s, mean service time (s)
    timeout: float  # T (s)
    attempts: int  # k, the first included; 1: no retries
    budget: float | None  # p, retries as a share of requests; None: unbounded
    faults: tuple[Any, ...]  # the faults on the client or the service
    duration: float


def fluid_model(scenario: Scenario) -> FluidModel | None:
    """The fluid of the first client with a fixed rate whose first call goes to a service.

    None when the scenario has no such pair (the preview then says it cannot help).
    """
    for name, node in scenario.nodes.items():
        rate = getattr(node, "rate", None)
        if node.kind != "client" or not rate or not node.calls:
            continue
        call = node.calls[0]
        target = scenario.nodes.get(call.to)
        if target is None or target.kind != "service":
            continue
        mean = getattr(target.service_time, "mean", None) or getattr(
            target.service_time, "value", None
        )
        if not mean or not math.isfinite(float(target.workers)) or call.timeout is None:
            return None
        retry = call.retry
        attempts = 1 if retry is None or retry.strategy == "none" else retry.attempts
        budget = retry.budget.percent if retry is not None and retry.budget else None
        faults = tuple(f for f in scenario.faults if f.target in (name, call.to))
        return FluidModel(
            float(rate), float(target.workers), float(mean), float(call.timeout),
            attempts, budget, faults, scenario.duration,
        )  # fmt: skip
    return None


def _at(model: FluidModel, t: float, skip: int | None) -> tuple[float, float, float]:
    """λ, μ and s at time t, with every fault active then except the one at ``skip``."""
    rate, service, share = model.rate, model.service, 1.0
    for i, f in enumerate(model.faults):
        start, end = f.window(model.duration)
        if i == skip or not start <= t < end:
            continue
        if f.kind == "surge":
            rate *= f.multiply
        elif f.kind == "throttle":
            share = min(share, f.capacity)
        elif f.kind == "crash":
            share = 0.0
        elif f.kind == "latency":
            service = service * f.multiply + f.add
    return rate, model.workers * share / max(service, 1e-9), service


def _trajectory(model: FluidModel, skip: int | None) -> list[float]:
    """Q at every step, from empty (the warm-up fills it)."""
    dt = 1.0 / STEPS_PER_SECOND
    q, out = 0.0, []
    retry_cap = math.inf if model.budget is None else model.budget / max(1.0 - model.budget, 1e-9)
    for step in range(int(model.duration * STEPS_PER_SECOND)):
        rate, mu, service = _at(model, step * dt, skip)
        wait = q / mu if mu > 0 else math.inf
        retries = 0.0
        if wait > model.timeout and model.attempts > 1:
            retries = rate * min(model.attempts - 1, retry_cap)
        served = min(mu, q / service) if service > 0 else mu
        q = max(0.0, q + (rate + retries - served) * dt)
        out.append(q)
    return out


def fluid_recovery(model: FluidModel, index: int) -> float | None:
    """Seconds after the end of ``model.faults[index]`` until the fluid is back within one
    service time's work (c) of the fluid without it, for good; None: not before the end."""
    with_it, without = _trajectory(model, None), _trajectory(model, index)
    _start, end = model.faults[index].window(model.duration)
    first = math.ceil(end * STEPS_PER_SECOND - 1e-9)
    last_bad = None
    for step in range(first, len(with_it)):
        if with_it[step] - without[step] > model.workers:
            last_bad = step
    if last_bad == len(with_it) - 1:
        return None
    if last_bad is None:
        return 0.0
    return round((last_bad + 1) / STEPS_PER_SECOND - end, 3)


def preview_map(
    scenario: Scenario, varies: Sequence[tuple[str, Sequence[str]]], fault: int = 0
) -> list[list[float | None]] | None:
    """The fluid's recovery per cell, ``[x][y]`` like the map; None if the fluid cannot model it.

    The trigger must be a fault on the modelled client or service.
    """
    variants = variant_grid(scenario, varies)
    ys = len(varies[1][1])
    out: list[list[float | None]] = [[None] * ys for _ in varies[0][1]]
    for v, variant in enumerate(variants):
        sc = variant.scenario or scenario
        model = fluid_model(sc)
        if model is None or not 0 <= fault < len(sc.faults):
            return None
        trigger = sc.faults[fault]
        index = next((i for i, f in enumerate(model.faults) if f is trigger), None)
        if index is None or trigger.kind not in ("surge", "throttle", "crash", "latency"):
            return None
        out[v // ys][v % ys] = fluid_recovery(model, index)
    return out


def preview_data(data: dict[str, Any], preview: list[list[float | None]] | None) -> dict[str, Any]:
    """The JSON ``preview`` of a map's JSON ``data``: the fluid's cells and where it disagrees.

    A disagreement is a cell one says never recovers and the other says recovers;
    recovery seconds always differ somewhat and are not listed.
    """
    if preview is None:
        return {"model": None, "note": "the fluid models one client calling one service, "
                "with a surge, throttle, crash or latency trigger on them"}  # fmt: skip
    (xa, ya) = data["axes"]
    cells, disagree = [], []
    simulated = {(c["x"], c["y"]): c["recovery_s"] for c in data["cells"]}
    for i, x in enumerate(xa["values"]):
        for j, y in enumerate(ya["values"]):
            value = preview[i][j]
            cells.append({"x": x, "y": y, "recovery_s": value})
            if (value is None) != (simulated[x, y] is None):
                disagree.append({"x": x, "y": y, "simulated": simulated[x, y], "preview": value})
    return {"model": "fluid", "cells": cells, "disagree": disagree}
