"""The ``deploys:`` section: a service switches from its running version to a new one.

A deploy names its target service, when it starts, its strategy with the
strategy's knobs, and when it rolls back. What the new version does wrong is
a ``bad_deploy`` fault (``scenario_faults``); a deploy alone ships a version
that behaves like the old one. The machinery that runs a deploy lives in
``simulator/deploys.py``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from simulator.scenario_alerts import expand_rules
from simulator.scenario_types import Duration, Percent, Strict

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = [
    "DEPLOY_STRATEGIES",
    "DEPLOY_TAGS",
    "BlueGreenDeploy",
    "CanaryDeploy",
    "CanaryStep",
    "Deploy",
    "Rollback",
    "RollingDeploy",
    "deploy_of_fault",
    "deploy_problems",
    "planned_end",
]

MAX_DEPLOYS = 100
MAX_CANARY_STEPS = 20
MAX_INSTANCES = 1_000
SEVERITIES = ("critical", "warning", "info")


class Rollback(Strict):
    """Roll back when one of these alert rules fires between the deploy's start and the end
    of its watch window (counted from its completion)."""

    # Not ``on:``: YAML 1.1 reads that key as the boolean true.
    alerts: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None,
        max_length=50,
        description="names of the alert rules that trigger the rollback (none: every rule of "
        "the severity below)",
    )
    severity: Literal["critical", "warning", "info"] = Field(
        "critical",
        description="with no rule names: the rules of this severity (or worse) trigger it",
    )
    watch: Duration = Field(
        300.0, ge=0, le=1e7, description="how long after completion an alert still rolls back"
    )


class _DeployBase(Strict):
    target: str = Field(description="the service that gets the new version")
    at: Duration = Field(0.0, description="when the deploy starts")
    rollback: Rollback | None = Field(
        default_factory=lambda: Rollback(alerts=None, severity="critical", watch=300.0),
        description="when traffic returns to the old version (false or null: never)",
    )

    @field_validator("rollback", mode="before")
    @classmethod
    def _rollback_false(cls, value: Any) -> Any:
        """``rollback: false`` reads as no rollback, as null does."""
        return None if value is False else value

    def label(self) -> str:
        """A few words for the timeline: 'canary api'."""
        return f"{self.strategy.replace('_', '-')} {self.target}"  # type: ignore[attr-defined]


class BlueGreenDeploy(_DeployBase):
    """All traffic moves to the new pool at once; the old pool stays warm for ``keep_old``
    (a rollback meanwhile is instant), then the deploy completes."""

    strategy: Literal["blue_green"]
    keep_old: Duration = Field(
        300.0, ge=0, le=1e7, description="how long the old pool is kept warm for a rollback"
    )


class CanaryStep(Strict):
    """One step of a canary: this share of the traffic goes to the new version for ``hold``."""

    share: Percent = Field(description="share of the traffic the new version gets")
    hold: Duration = Field(60.0, ge=0, le=1e7, description="how long this step lasts")


class CanaryDeploy(_DeployBase):
    """The new version takes each step's share for its hold time, then all the traffic."""

    strategy: Literal["canary"]
    steps: list[CanaryStep] = Field(
        default_factory=lambda: [CanaryStep(share=0.05, hold=60.0)],
        min_length=1,
        max_length=MAX_CANARY_STEPS,
        description="the shares in order, each with its hold time; then 100%",
    )

    @field_validator("steps")
    @classmethod
    def _rising(cls, steps: list[CanaryStep]) -> list[CanaryStep]:
        for before, after in itertools.pairwise(steps):
            if after.share < before.share:
                raise ValueError("canary shares must not fall from one step to the next")
        return steps


class RollingDeploy(_DeployBase):
    """Instances are replaced ``batch`` at a time: each batch is drained (its accepted
    requests finish, it takes no new ones), boots the new version for ``boot_time``, then
    serves; the service's workers are split evenly among its ``instances``."""

    strategy: Literal["rolling"]
    instances: int = Field(4, ge=1, le=MAX_INSTANCES, description="instances of the service")
    batch: int = Field(1, ge=1, le=MAX_INSTANCES, description="instances replaced at a time")
    boot_time: Duration = Field(
        10.0, ge=0, le=1e7, description="how long a replaced instance takes to start"
    )

    @model_validator(mode="after")
    def _batch_fits(self) -> RollingDeploy:
        if self.batch > self.instances:
            raise ValueError(f"batch ({self.batch}) is larger than instances ({self.instances})")
        return self

    def batches(self) -> int:
        return math.ceil(self.instances / self.batch)


Deploy = Annotated[BlueGreenDeploy | CanaryDeploy | RollingDeploy, Field(discriminator="strategy")]
DEPLOY_STRATEGIES = ("blue_green", "canary", "rolling")
DEPLOY_TAGS = DEPLOY_STRATEGIES
"""What pydantic adds to an error's location inside a deploy (the file never spells them)."""


def planned_end(deploy: BlueGreenDeploy | CanaryDeploy | RollingDeploy) -> float:
    """When the deploy completes if nothing rolls it back (a rolling batch's draining is
    not known in advance: counted as instant here)."""
    if isinstance(deploy, BlueGreenDeploy):
        return deploy.at + deploy.keep_old
    if isinstance(deploy, CanaryDeploy):
        return deploy.at + sum(step.hold for step in deploy.steps)
    return deploy.at + deploy.batches() * deploy.boot_time


def deploy_of_fault(scenario: Scenario, fault: Any) -> int | None:
    """The index of the deploy whose version a ``bad_deploy`` fault spoils (None: none).

    The deploy of the fault's target whose window, from its start to its planned end,
    holds the fault's start.
    """
    for index, deploy in enumerate(scenario.deploys):
        if deploy.target == fault.target and deploy.at <= fault.at <= planned_end(deploy):
            return index
    return None


def deploy_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Cross-references of the deploys: real services, no two at once on one service, and
    each ``bad_deploy`` fault inside a deploy of its target."""
    if len(scenario.deploys) > MAX_DEPLOYS:
        yield ("deploys",), f"{len(scenario.deploys)} deploys; the limit is {MAX_DEPLOYS}"
        return
    last_end: dict[str, float] = {}
    for index, deploy in enumerate(scenario.deploys):
        node = scenario.nodes.get(deploy.target)
        if node is None:
            yield ("deploys", index, "target"), f"unknown node {deploy.target!r}"
            continue
        if node.kind != "service":
            yield (
                ("deploys", index, "target"),
                (f"{deploy.target!r} is a {node.kind}: a deploy targets a service"),
            )
            continue
        previous = last_end.get(deploy.target)
        if previous is not None and deploy.at < previous:
            yield (
                ("deploys", index, "at"),
                (
                    f"starts before the previous deploy of {deploy.target!r} has completed "
                    f"(at {previous:g}s): one deploy at a time per service"
                ),
            )
        last_end[deploy.target] = max(previous or 0.0, planned_end(deploy))
        if isinstance(deploy, RollingDeploy) and node.workers < deploy.instances:
            yield (
                ("deploys", index, "instances"),
                (
                    f"{deploy.instances} instances but {deploy.target!r} has "
                    f"{node.workers} workers: each instance needs one"
                ),
            )
    yield from _rollback_problems(scenario)
    for index, fault in enumerate(scenario.faults):
        if fault.kind != "bad_deploy":
            continue
        node = scenario.nodes.get(fault.target)
        if fault.leak_mb_per_s and node is not None and getattr(node, "memory", None) is None:
            yield (
                ("faults", index, "leak_mb_per_s"),
                (
                    f"{fault.target!r} has no memory model: give it memory: (limit_mb, "
                    "base_mb, ...) for the new version's leak to fill"
                ),
            )
        if deploy_of_fault(scenario, fault) is None:
            yield (
                ("faults", index, "at"),
                (
                    f"no deploy of {fault.target!r} is under way at {fault.at:g}s: a bad_deploy "
                    "spoils the version a deploy ships, so put its at: at a deploy's start"
                ),
            )


def _rollback_problems(scenario: Scenario) -> Iterator[tuple[tuple[Any, ...], str]]:
    """A rollback that no rule in force can trigger would silently never happen: a name
    that is no rule (a typo, a rule switched off) or a severity no rule has."""
    watching = [d for d in scenario.deploys if d.rollback is not None]
    if not watching:
        return
    watched = expand_rules(scenario)  # rules that watch at least one target
    names = list(dict.fromkeys(rule.name for rule, _ in watched))
    rank = {severity: len(SEVERITIES) - i for i, severity in enumerate(SEVERITIES)}
    available = f"the rules are: {', '.join(names)}" if names else "no rule is in force"
    for index, deploy in enumerate(scenario.deploys):
        rollback = deploy.rollback
        if rollback is None:
            continue
        loc = ("deploys", index, "rollback")
        if rollback.alerts is not None:
            for k, name in enumerate(rollback.alerts):
                if name not in names:
                    yield (
                        (*loc, "alerts", k),
                        f"no alert rule {name!r} is in force (a typo, or a rule switched off "
                        f"or watching nothing?); {available}",
                    )
        elif not any(rank[rule.severity] >= rank[rollback.severity] for rule, _ in watched):
            yield (
                (*loc, "severity"),
                f"no alert rule in force is {rollback.severity} or worse, so nothing would "
                f"roll the deploy of {deploy.target!r} back: name rules with alerts: [...], "
                f"lower the severity, or say rollback: false ({available})",
            )
