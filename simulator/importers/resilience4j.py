"""resilience4j's Spring Boot configuration onto one call: breaker, retry, bulkhead, timeout.

Reads ``resilience4j.circuitbreaker|retry|bulkhead|thread-pool-bulkhead|timelimiter``
as resilience4j-spring-boot binds them: ``configs`` (``default`` is the base of
every instance without ``baseConfig``), ``instances`` (or the older ``backends``)
with ``baseConfig``, relaxed names, Spring durations. An instance's properties
override its base's, key by key, except a retry's back-off, which resilience4j
builds from the nearest config with its own ``waitDuration`` (``_retry_interval``).
``retryExceptions``/``ignoreExceptions`` become ``retry_on`` by resilience4j's own
exception classes (its breaker's, its bulkhead's, TimeoutException). Unset
properties take resilience4j's own defaults (``CircuitBreakerConfig``,
``RetryConfig``, ``BulkheadConfig``, ``ThreadPoolBulkheadConfig``,
``TimeLimiterConfig``), written out so the scenario does not depend on Murphy's
defaults agreeing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from simulator.importers.findings import CannotImport, ImportResult, read_documents
from simulator.importers.spring import Entry, flatten, parse_spring_duration, relaxed
from simulator.scenario_policies import Breaker, Bulkhead, Retry
from simulator.scenario_types import Strict
from simulator.units import format_duration

__all__ = ["MODULES", "read_resilience4j", "resilience4j_instances"]

_NO_EFFECT = "no effect on what a call does (events, metrics, health, stack traces)"
_JAVA = "names Java classes or predicates; Murphy judges outcomes (error, timeout, rejected…)"

MODULES = {
    "circuitbreaker": "circuitbreaker",
    "retry": "retry",
    "bulkhead": "bulkhead",
    "threadpoolbulkhead": "thread-pool-bulkhead",
    "timelimiter": "timelimiter",
    "ratelimiter": "ratelimiter",
}
"""resilience4j's Spring modules (relaxed name → as written in its docs)."""

_KNOWN: dict[str, dict[str, str | None]] = {
    # property (relaxed) -> None if mapped onto Murphy, else why it is not modelled
    "circuitbreaker": {
        "failureratethreshold": None,
        "slowcallratethreshold": None,
        "slowcalldurationthreshold": None,
        "slidingwindowtype": None,
        "slidingwindowsize": None,
        "minimumnumberofcalls": None,
        "waitdurationinopenstate": None,
        "permittednumberofcallsinhalfopenstate": None,
        "maxwaitdurationinhalfopenstate": "Murphy's half-open waits for its trial calls' outcomes "
        "without a time limit (resilience4j's default, 0)",
        "automatictransitionfromopentohalfopenenabled": "Murphy moves to half-open on the first "
        "call after the wait (resilience4j's default); with traffic the two agree",
        "initialstate": "Murphy's breakers start closed",
        "enableexponentialbackoff": "Murphy's breaker waits the same time in open state each time",
        "exponentialbackoffmultiplier": "Murphy's breaker waits the same time in open state each "
        "time",
        "exponentialmaxwaitdurationinopenstate": "Murphy's breaker waits the same time in open "
        "state each time",
        "enablerandomizedwait": "Murphy's breaker waits exactly its time in open state",
        "randomizedwaitfactor": "Murphy's breaker waits exactly its time in open state",
        "recordexceptions": _JAVA,
        "ignoreexceptions": _JAVA,
        "recordfailurepredicate": _JAVA,
        "recordresultpredicate": _JAVA,
        "ignoreexceptionpredicate": _JAVA,
        "ignoreclassbindingexceptions": _JAVA,
        "writablestacktraceenabled": _NO_EFFECT,
        "registerhealthindicator": _NO_EFFECT,
        "allowhealthindicatortofail": _NO_EFFECT,
        "eventconsumerbuffersize": _NO_EFFECT,
    },
    "retry": {
        "maxattempts": None,
        "waitduration": None,
        "enableexponentialbackoff": None,
        "exponentialbackoffmultiplier": None,
        "exponentialmaxwaitduration": None,
        "enablerandomizedwait": None,
        "randomizedwaitfactor": None,
        "ignoreexceptions": None,
        "retryexceptions": None,
        "retryexceptionpredicate": _JAVA,
        "resultpredicate": _JAVA,
        "intervalbifunction": _JAVA,
        "consumeresultbeforeretryattempt": _JAVA,
        "failaftermaxattempts": "only changes the exception a result-based retry ends with",
        "eventconsumerbuffersize": _NO_EFFECT,
    },
    "bulkhead": {
        "maxconcurrentcalls": None,
        "maxwaitduration": None,
        "faircallhandlingstrategyenabled": None,
        "writablestacktraceenabled": _NO_EFFECT,
        "eventconsumerbuffersize": _NO_EFFECT,
    },
    "threadpoolbulkhead": {
        "maxthreadpoolsize": None,
        "corethreadpoolsize": None,
        "queuecapacity": None,
        "keepaliveduration": "threads are not modelled apart from the calls they run",
        "contextpropagators": _JAVA,
        "writablestacktraceenabled": _NO_EFFECT,
        "eventconsumerbuffersize": _NO_EFFECT,
    },
    "timelimiter": {
        "timeoutduration": None,
        "cancelrunningfuture": "cancelling the caller's future does not stop the callee: its "
        "work goes on unless the call has deadline_propagation",
        "eventconsumerbuffersize": _NO_EFFECT,
    },
}

_ALL_OUTCOMES = ["error", "timeout", "rejected", "breaker_open", "shed", "rate_limited"]


@dataclass
class _Value:
    raw: Any
    line: int
    path: str


@dataclass
class _Layer:
    """The properties one ``configs.X`` or ``instances.X`` entry gives, by relaxed name."""

    path: str
    line: int
    props: dict[str, _Value] = field(default_factory=dict)


@dataclass
class _Config:
    configs: dict[str, dict[str, _Layer]] = field(default_factory=dict)
    instances: dict[str, dict[str, _Layer]] = field(default_factory=dict)


def read_resilience4j(
    path: str, instance: str, processors: int = 4, target: str = "the call"
) -> ImportResult:
    """The Murphy policies of resilience4j instance ``instance`` in the Spring file ``path``.

    ``processors`` stands for the JVM's available processors, which size a
    thread-pool bulkhead when its sizes are unset.
    """
    result = ImportResult("resilience4j")
    config = _collect(path, result)
    found = [m for m in _KNOWN if instance in config.instances.get(m, {})]
    if not found:
        names = sorted({n for layers in config.instances.values() for n in layers})
        listed = ", ".join(names) if names else "none"
        raise CannotImport(f"{path}: no resilience4j instance {instance!r} (instances: {listed})")
    if "bulkhead" in found and "threadpoolbulkhead" in found:
        raise CannotImport(
            f"{path}: {instance!r} has both a bulkhead and a thread-pool-bulkhead; a Murphy call "
            "has one bulkhead: remove one of them from the file or import a copy without it"
        )
    for module in _KNOWN:
        if module not in found:
            if config.instances.get(module) or config.configs.get(module):
                result.add(
                    "note",
                    f"resilience4j.{MODULES[module]}",
                    f"has no instance {instance!r}: nothing imported from it",
                )
            continue
        props = _merged(config, module, instance, result)
        _MAPPERS[module](_Props(props, module, result, processors, instance), result)
    others = sorted({n for layers in config.instances.values() for n in layers if n != instance})
    if others:
        result.add("note", "", f"other instances not imported: {', '.join(others)}")
    _check_models(result, target)
    return result


def resilience4j_instances(path: str) -> list[str]:
    """The instance names of a Spring file, sorted (for the app's choice of instance)."""
    config = _collect(path, ImportResult("resilience4j"))
    return sorted({n for m, layers in config.instances.items() if m in _KNOWN for n in layers})


def _collect(path: str, result: ImportResult) -> _Config:
    """Every resilience4j key of the file into configs and instances; the rest reported."""
    config = _Config()
    elsewhere: dict[str, int] = {}
    for doc in read_documents(path):
        entries = flatten(doc)
        profile = [e for e in entries if _is_profile(e.parts)]
        if profile:
            result.add(
                "not_modelled",
                profile[0].path,
                f"a document for profile {profile[0].value!r}: Murphy imports the documents "
                "without a profile only",
                profile[0].line,
            )
            continue
        for entry in entries:
            if not entry.parts or relaxed(entry.parts[0]) != "resilience4j":
                top = entry.parts[0] if entry.parts else "(document)"
                elsewhere.setdefault(top, entry.line)
                continue
            _place(entry, config, result)
    if elsewhere:
        keys = ", ".join(elsewhere)
        result.add("note", "", f"top-level keys other than resilience4j not read: {keys}")
    return config


def _is_profile(parts: tuple[str, ...]) -> bool:
    names = [relaxed(p) for p in parts]
    return names[:4] == ["spring", "config", "activate", "onprofile"] or names[:2] == [
        "spring",
        "profiles",
    ]


def _place(entry: Entry, config: _Config, result: ImportResult) -> None:
    parts = entry.parts
    module = relaxed(parts[1]) if len(parts) > 1 else ""
    if module not in MODULES:
        result.add("unknown", entry.path, "not a resilience4j module", entry.line)
        return
    if module == "ratelimiter":
        result.add(
            "not_modelled",
            entry.path,
            "Murphy has no client-side rate limiter on a call (a node's limiter sheds at its "
            "entry instead)",
            entry.line,
        )
        return
    group = relaxed(parts[2]) if len(parts) > 2 else ""
    if group in ("configs", "instances", "backends") and len(parts) == 4 and not entry.value:
        where = config.configs if group == "configs" else config.instances
        layers = where.setdefault(module, {})
        layers.setdefault(parts[3], _Layer(entry.path, entry.line))  # all of its defaults
        return
    if group not in ("configs", "instances", "backends") or len(parts) < 5:
        result.add(
            "not_modelled", entry.path, "module-wide setting (aspect order, metrics…)", entry.line
        )
        return
    name = parts[3]
    prop = relaxed("".join(parts[4:]))
    if prop.isdigit() or (len(parts) > 5 and parts[-1].isdigit()):
        prop = relaxed("".join(p for p in parts[4:] if not p.isdigit()))
    where = config.configs if group == "configs" else config.instances
    layer = where.setdefault(module, {}).setdefault(name, _Layer(".".join(parts[:4]), entry.line))
    layer.props[prop] = _Value(entry.value, entry.line, entry.path)


_INTERVAL = (
    "waitduration",
    "enableexponentialbackoff",
    "enablerandomizedwait",
    "exponentialbackoffmultiplier",
    "exponentialmaxwaitduration",
    "randomizedwaitfactor",
)
"""The retry properties that make its IntervalFunction (its back-off)."""
_INHERITED_SHAPE = _INTERVAL[1:5]
"""What ``ConfigUtils.mergePropertiesIfAny`` copies into a retry config from its direct base."""


def _merged(config: _Config, module: str, instance: str, result: ImportResult) -> dict[str, _Value]:
    """The instance's properties over its base chain's (``baseConfig``, else ``default``).

    Key by key, as ``XConfig.from(baseConfig)`` then the instance's own setters do; a
    retry's back-off follows resilience4j's own rule (``_retry_interval``).
    """
    layer = config.instances[module][instance]
    chain = [layer]
    seen = {instance}
    current, current_name = layer, instance
    while True:
        base = current.props.get("baseconfig")
        configs = config.configs.get(module, {})
        if base is not None:
            name = str(base.raw)
            if name not in configs:
                raise CannotImport(
                    f"{base.path} (line {base.line}): no configs.{name} under "
                    f"resilience4j.{MODULES[module]}: resilience4j would refuse to start"
                )
            if name in seen and current is not layer:
                raise CannotImport(
                    f"{base.path} (line {base.line}): baseConfig loops back to {name}"
                )
            seen.add(name)
            current, current_name = configs[name], name
            chain.append(current)
            continue
        # resilience4j's retry builds a base config without baseConfig over configs.default
        # too (createRetryConfig recurses with the config's name); the others only an instance.
        below = current is layer or module == "retry"
        if below and "default" in configs and current_name != "default":
            if configs["default"] in chain:
                break
            chain.append(configs["default"])
            seen.add("default")
            result.add(
                "note",
                configs["default"].path,
                f"is the base of {current_name!r} (it names no baseConfig)",
                configs["default"].line,
            )
            current, current_name = configs["default"], "default"
            continue
        break
    merged: dict[str, _Value] = {}
    for item in reversed(chain):
        merged.update(item.props)
    merged.pop("baseconfig", None)
    if module == "retry":
        _retry_interval(chain, merged, result)
    return merged


def _retry_interval(chain: list[_Layer], merged: dict[str, _Value], result: ImportResult) -> None:
    """A retry's back-off as resilience4j-spring builds it (CommonRetryConfigurationProperties).

    The back-off is made only by a config that sets its own ``waitDuration``: the
    nearest in the chain (the instance first); a config without one keeps its base's
    back-off whole. That config reads its own properties plus, from its direct base
    only, the four ``mergePropertiesIfAny`` copies (enableExponentialBackoff,
    enableRandomizedWait, exponentialBackoffMultiplier, exponentialMaxWaitDuration);
    ``randomizedWaitFactor`` is never inherited.
    """
    for key in _INTERVAL:
        merged.pop(key, None)
    maker = next((i for i, item in enumerate(chain) if "waitduration" in item.props), None)
    if maker is not None:
        own = chain[maker].props
        above = chain[maker + 1].props if maker + 1 < len(chain) else {}
        for key in _INTERVAL:
            if key in own:
                merged[key] = own[key]
            elif key in _INHERITED_SHAPE and key in above:
                merged[key] = above[key]
    used = {id(v) for v in merged.values()}
    for item in chain:
        for key in _INTERVAL:
            value = item.props.get(key)
            if value is None or id(value) in used:
                continue
            if maker is None:
                why = "no config in the chain sets waitDuration: resilience4j's fixed 500 ms"
            elif chain.index(item) < maker:
                why = (
                    f"without its own waitDuration this config keeps the back-off of "
                    f"{chain[maker].path} whole"
                )
            else:
                why = (
                    f"the back-off is made by {chain[maker].path}, which inherits only "
                    "enableExponentialBackoff, enableRandomizedWait, exponentialBackoffMultiplier "
                    "and exponentialMaxWaitDuration from its direct base"
                )
            result.add("note", value.path, f"not used by resilience4j: {why}", value.line)


class _Props:
    """The merged properties of one module, read once each; the rest reported at the end."""

    def __init__(
        self,
        props: dict[str, _Value],
        module: str,
        result: ImportResult,
        processors: int,
        instance: str,
    ) -> None:
        self.props = props
        self.module = module
        self.result = result
        self.processors = processors
        self.prefix = f"resilience4j.{MODULES[module]}.instances.{instance}"
        known = _KNOWN[module]
        for name, value in props.items():
            if name not in known:
                result.add("unknown", value.path, "not a property of this module", value.line)
            elif known[name] is not None:
                result.add("not_modelled", value.path, str(known[name]), value.line)

    def has(self, name: str) -> bool:
        return name in self.props

    def raw(self, name: str) -> _Value | None:
        return self.props.get(name)

    def whole(self, name: str, default: int) -> int:
        """A whole-number property (``default`` when unset)."""
        value = self.props.get(name)
        if value is None:
            return default
        try:
            return _whole(value.raw)
        except ValueError as exc:
            raise CannotImport(f"{value.path} (line {value.line}): {exc}") from None

    def flag(self, name: str) -> bool:
        """A boolean property (false when unset)."""
        value = self.props.get(name)
        if value is None:
            return False
        try:
            return _flag(value.raw)
        except ValueError as exc:
            raise CannotImport(f"{value.path} (line {value.line}): {exc}") from None

    def take(
        self,
        name: str,
        shown: str,
        default: Any,
        convert: Callable[[Any], Any],
        murphy: str,
        spell: Callable[[Any], str] = str,
    ) -> Any:
        """The value of ``name`` converted (or resilience4j's ``default``), reported."""
        value = self.props.get(relaxed(name))
        if value is None:
            self.result.add(
                "default",
                f"{self.prefix}.{shown}",
                f"unset: resilience4j's {spell(default)} → {murphy or spell(default)}",
            )
            return default
        try:
            converted = convert(value.raw)
        except (TypeError, ValueError) as exc:
            raise CannotImport(f"{value.path} (line {value.line}): {exc}") from None
        became = " ".join(x for x in (murphy, spell(converted)) if x)
        self.result.add("set", value.path, f"{_show(value.raw)} → {became}", value.line)
        return converted


def _percent(value: float) -> str:
    return f"{value:g}%"


def _window_kind(kind: str) -> str:
    return "a time window (window)" if kind == "TIME_BASED" else "a count window (window_calls)"


def _show(raw: Any) -> str:
    if isinstance(raw, bool):
        return str(raw).lower()
    return ", ".join(map(str, raw)) if isinstance(raw, list) else str(raw)


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"expected a number, got {raw}")
    return float(raw)


def _whole(raw: Any) -> int:
    value = _number(raw)
    if not value.is_integer():
        raise ValueError(f"expected a whole number, got {raw}")
    return int(value)


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {raw}")


def _ms(seconds: float) -> str:
    return format_duration(seconds)


def _breaker(p: _Props, result: ImportResult) -> None:
    fields: dict[str, Any] = {}
    rate = p.take(
        "failureRateThreshold", "failureRateThreshold", 50.0, _number, "failure_rate", _percent
    )
    fields["failure_rate"] = rate / 100.0
    slow_rate = p.take(
        "slowCallRateThreshold", "slowCallRateThreshold", 100.0, _number, "slow_call_rate", _percent
    )
    fields["slow_call_rate"] = slow_rate / 100.0
    fields["slow_call_duration"] = p.take(
        "slowcalldurationthreshold",
        "slowCallDurationThreshold",
        60.0,
        parse_spring_duration,
        "slow_call_duration",
        _ms,
    )
    kind = p.take(
        "slidingwindowtype", "slidingWindowType", "COUNT_BASED", _window_type, "", _window_kind
    )
    size = p.take(
        "slidingwindowsize",
        "slidingWindowSize",
        100,
        _whole,
        "window_calls" if kind == "COUNT_BASED" else "window (seconds)",
    )
    if kind == "COUNT_BASED":
        fields["window_calls"] = size
    else:
        fields["window"] = float(size)
    fields["min_calls"] = p.take(
        "minimumnumberofcalls", "minimumNumberOfCalls", 100, _whole, "min_calls"
    )
    fields["open_for"] = p.take(
        "waitdurationinopenstate",
        "waitDurationInOpenState",
        60.0,
        parse_spring_duration,
        "open_for",
        _ms,
    )
    fields["half_open_calls"] = p.take(
        "permittednumberofcallsinhalfopenstate",
        "permittedNumberOfCallsInHalfOpenState",
        10,
        _whole,
        "half_open_calls",
    )
    result.call["breaker"] = fields


def _window_type(raw: Any) -> str:
    text = str(raw).strip().upper().replace("-", "_")
    if text not in ("COUNT_BASED", "TIME_BASED"):
        raise ValueError(f"slidingWindowType is COUNT_BASED or TIME_BASED, not {raw}")
    return text


def _retry(p: _Props, result: ImportResult) -> None:
    attempts = p.take("maxattempts", "maxAttempts", 3, _whole, "attempts")
    fields: dict[str, Any] = {"attempts": attempts}
    wait = p.raw("waitduration")
    base = p.take("waitduration", "waitDuration", 0.5, parse_spring_duration, "base", _ms)
    fields["base"] = base
    exponential = p.flag("enableexponentialbackoff")
    randomized = p.flag("enablerandomizedwait")
    shape = [
        k
        for k in (
            "enableexponentialbackoff",
            "enablerandomizedwait",
            "exponentialbackoffmultiplier",
            "randomizedwaitfactor",
            "exponentialmaxwaitduration",
        )
        if p.has(k)
    ]
    if wait is None and (exponential or randomized):
        result.add(
            "note",
            f"{p.prefix}.waitDuration",
            "unset: resilience4j then ignores enableExponentialBackoff and enableRandomizedWait "
            "and waits a fixed 500 ms",
        )
        exponential = randomized = False
    multiplier = _shape_number(p, "exponentialbackoffmultiplier", 1.5)
    given = p.raw("exponentialbackoffmultiplier")
    if given is not None and not 0 < multiplier <= 100:
        raise CannotImport(
            f"{given.path} (line {given.line}): exponentialBackoffMultiplier {_show(given.raw)}: "
            "resilience4j needs more than 0, and Murphy's retry multiplier is at most 100"
        )
    factor = _shape_number(p, "randomizedwaitfactor", 0.5)
    became = {
        "enableexponentialbackoff": "strategy " + ("exponential" if exponential else "fixed"),
        "enablerandomizedwait": "randomization" if randomized else "no randomization",
        "exponentialbackoffmultiplier": f"multiplier {multiplier:g}" if exponential else "unused",
        "randomizedwaitfactor": f"randomization {factor:.0%}" if randomized else "unused",
        "exponentialmaxwaitduration": "cap" if exponential else "unused",
    }
    for key in shape:
        value = p.raw(key)
        assert value is not None
        result.add("set", value.path, f"{_show(value.raw)} → {became[key]}", value.line)
    cap_value = p.raw("exponentialmaxwaitduration")
    if exponential:
        fields["strategy"] = "exponential"
        fields["multiplier"] = multiplier
        if not p.has("exponentialbackoffmultiplier"):
            result.add(
                "default",
                f"{p.prefix}.exponentialBackoffMultiplier",
                "unset: resilience4j's 1.5 → multiplier",
            )
        capped = (
            cap_value is not None
            and p.has("exponentialbackoffmultiplier")
            and (not randomized or p.has("randomizedwaitfactor"))
        )
        if cap_value is not None and not capped:
            result.add(
                "note",
                cap_value.path,
                "resilience4j ignores exponentialMaxWaitDuration unless "
                "exponentialBackoffMultiplier"
                + (" and randomizedWaitFactor are" if randomized else " is")
                + " set: uncapped",
                cap_value.line,
            )
        fields["cap"] = (
            _duration(cap_value)
            if capped and cap_value is not None
            else _uncapped(base, multiplier, attempts, factor if randomized else 0.0)
        )
        if fields["cap"] >= _NO_CAP:
            result.add(
                "note",
                f"{p.prefix}.exponentialMaxWaitDuration",
                f"uncapped waits grow past any run: cap {_ms(_NO_CAP)} stands for none",
            )
    else:
        fields["strategy"] = "fixed"
    if randomized:
        fields["randomization"] = factor
        if not p.has("randomizedwaitfactor"):
            result.add(
                "default",
                f"{p.prefix}.randomizedWaitFactor",
                "unset: resilience4j's 0.5 → randomization 50%",
            )
    fields["retry_on"] = _retry_on(p, result)
    result.call["retry"] = fields


def _shape_number(p: _Props, name: str, default: float) -> float:
    value = p.raw(name)
    if value is None:
        return default
    try:
        return _number(value.raw)
    except ValueError as exc:
        raise CannotImport(f"{value.path} (line {value.line}): {exc}") from None


def _duration(value: _Value) -> float:
    try:
        return parse_spring_duration(value.raw)
    except ValueError as exc:
        raise CannotImport(f"{value.path} (line {value.line}): {exc}") from None


_NO_CAP = 1_000_000.0
"""Seconds (11.6 days) that stand for "no cap": longer than any run, and a finite number."""


def _uncapped(base: float, multiplier: float, attempts: int, factor: float) -> float:
    """A cap no wait of these attempts reaches: resilience4j's exponential wait has none.

    Computed in logarithms: a large multiplier or many attempts would overflow a float.
    """
    if base <= 0:
        return 30.0
    log_longest = math.log(base) + max(0, attempts - 2) * math.log(multiplier) + math.log1p(factor)
    if log_longest >= math.log(_NO_CAP):
        return _NO_CAP
    return max(30.0, float(int(math.exp(log_longest)) + 1))


# Murphy's outcomes resilience4j sees as its own exceptions, with every class a
# ``retryExceptions``/``ignoreExceptions`` entry may name to cover them (the class and its
# superclasses: resilience4j matches with isAssignableFrom).
_OWN_CLASSES = {
    "breaker_open": (
        "io.github.resilience4j.circuitbreaker.callnotpermittedexception",
        "java.lang.runtimeexception",
    ),
    "rejected": (
        "io.github.resilience4j.bulkhead.bulkheadfullexception",
        "java.lang.runtimeexception",
    ),
    "timeout": ("java.util.concurrent.timeoutexception",),
}
_EVERY = ("java.lang.exception", "java.lang.throwable")
_UNCHECKED = "java.lang.runtimeexception"
"""The superclass of the usual HTTP clients' exceptions (Spring's HttpServerErrorException,
WebClientResponseException, Feign's FeignException): naming it covers the application's
failures too, though not a TimeoutException (a checked exception)."""
_APP_OUTCOMES = ["error", "shed", "rate_limited"]
"""Failures the application's own client throws (an HTTP 5xx, 503, 429): their classes are
the application's, so a list of classes is assumed to cover them unless it names only
resilience4j's own exceptions."""


def _classes(value: _Value) -> list[str]:
    names = value.raw if isinstance(value.raw, list) else str(value.raw).split(",")
    return [str(n).strip() for n in names if str(n).strip()]


def _covers(listed: list[str], outcome: str) -> bool:
    """Whether a class list names ``outcome``'s exception or one of its superclasses."""
    names = {n.lower() for n in listed}
    return bool(names & (set(_OWN_CLASSES.get(outcome, ())) | set(_EVERY)))


def _retry_on(p: _Props, result: ImportResult) -> list[str]:
    """resilience4j's exception predicates as outcomes: ``retryExceptions`` retries only the
    listed classes (and subclasses), ``ignoreExceptions`` never retries its classes."""
    retried = p.raw("retryexceptions")
    ignored = p.raw("ignoreexceptions")
    if retried is None:
        outcomes = list(_ALL_OUTCOMES)
        if ignored is None:
            result.add(
                "default",
                f"{p.prefix}.ignoreExceptions",
                "unset: resilience4j retries every exception, its own CallNotPermittedException "
                "and BulkheadFullException included → retry_on: " + ", ".join(outcomes),
            )
    else:
        listed = _classes(retried)
        own = {c for classes in _OWN_CLASSES.values() for c in classes} | set(_EVERY)
        app = [n for n in listed if n.lower() not in own]
        outcomes = [o for o in _ALL_OUTCOMES if o in _OWN_CLASSES and _covers(listed, o)]
        if app or any(n.lower() in (*_EVERY, _UNCHECKED) for n in listed):
            outcomes = [o for o in _ALL_OUTCOMES if o in _APP_OUTCOMES or o in outcomes]
            if app:
                result.add(
                    "note",
                    retried.path,
                    f"{', '.join(app)}: Murphy cannot tell exception classes apart; "
                    f"assumed to be what the application's client throws for "
                    f"{', '.join(_APP_OUTCOMES)} (retried)",
                    retried.line,
                )
        left_out = [o for o in _OWN_CLASSES if o not in outcomes]
        if left_out:
            result.add(
                "set",
                retried.path,
                "resilience4j retries only these classes: "
                + ", ".join(left_out)
                + " (its own exceptions, not listed) → not in retry_on",
                retried.line,
            )
    if ignored is not None:
        listed = _classes(ignored)
        gone = [o for o in outcomes if _covers(listed, o)]
        if any(n.lower() in _EVERY for n in listed):
            gone = list(outcomes)
        elif any(n.lower() == _UNCHECKED for n in listed):
            gone += [o for o in outcomes if o in _APP_OUTCOMES and o not in gone]
        mapped = [n for n in listed if any(n.lower() in c for c in _OWN_CLASSES.values())]
        other = [n for n in listed if n not in mapped and n.lower() not in _EVERY]
        outcomes = [o for o in outcomes if o not in gone]
        if gone:
            result.add(
                "set",
                ignored.path,
                f"{', '.join(n for n in listed if n not in other)} → "
                f"{', '.join(gone)} not in retry_on",
                ignored.line,
            )
        if other:
            result.add("not_modelled", ignored.path, f"{', '.join(other)}: {_JAVA}", ignored.line)
    return outcomes


def _bulkhead(p: _Props, result: ImportResult) -> None:
    fields: dict[str, Any] = {"kind": "semaphore"}
    fields["max_concurrent"] = p.take(
        "maxconcurrentcalls", "maxConcurrentCalls", 25, _whole, "max_concurrent"
    )
    fields["max_wait"] = p.take(
        "maxwaitduration", "maxWaitDuration", 0.0, parse_spring_duration, "max_wait", _ms
    )
    fair = p.raw("faircallhandlingstrategyenabled")
    if fair is not None and not p.flag("faircallhandlingstrategyenabled"):
        result.add(
            "not_modelled",
            fair.path,
            "Murphy's semaphore is fair (FIFO), resilience4j's default",
            fair.line,
        )
    elif fair is not None:
        result.add("set", fair.path, "true → a FIFO semaphore, as Murphy's is", fair.line)
    result.call["bulkhead"] = fields


def _thread_pool(p: _Props, result: ImportResult) -> None:
    cpus = p.processors
    fields: dict[str, Any] = {"kind": "pool"}
    fields["max_concurrent"] = p.take(
        "maxthreadpoolsize",
        "maxThreadPoolSize",
        cpus,
        _whole,
        "max_concurrent",
        lambda v: f"available processors (assumed {v})",
    )
    core = p.raw("corethreadpoolsize")
    core_size = p.whole("corethreadpoolsize", max(1, cpus - 1))
    if core_size < fields["max_concurrent"]:
        result.add(
            "not_modelled",
            core.path if core else f"{p.prefix}.coreThreadPoolSize",
            f"{core_size} core threads: Java's pool adds threads beyond the core only once its "
            "queue is full; Murphy's pool runs max_concurrent calls whenever they are waiting",
            core.line if core else None,
        )
    fields["queue"] = p.take("queuecapacity", "queueCapacity", 100, _whole, "queue")
    result.call["bulkhead"] = fields


def _time_limiter(p: _Props, result: ImportResult) -> None:
    result.call["timeout"] = p.take(
        "timeoutduration",
        "timeoutDuration",
        1.0,
        parse_spring_duration,
        "timeout (per attempt)",
        _ms,
    )


_MAPPERS: dict[str, Callable[[_Props, ImportResult], None]] = {
    "circuitbreaker": _breaker,
    "retry": _retry,
    "bulkhead": _bulkhead,
    "threadpoolbulkhead": _thread_pool,
    "timelimiter": _time_limiter,
}

_MODELS: dict[str, type[Strict]] = {"breaker": Breaker, "retry": Retry, "bulkhead": Bulkhead}


def _check_models(result: ImportResult, target: str) -> None:
    """Each policy validated now, so a bad value is reported against the file."""
    for name, model in _MODELS.items():
        if name in result.call:
            try:
                model.model_validate(result.call[name])
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(x) for x in error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                raise CannotImport(
                    f"the imported {name} for {target} is not valid: {where}: {message}"
                ) from None
