"""``murphy import``: resilience4j and Envoy settings onto a scenario, with their defaults.

The configuration files under tests/data/import/ look like real ones: a Spring
Boot application.yml with a default config, a shared base config, several
instances, a typo and a profile document; an Envoy bootstrap with a listener,
routes and two clusters; a single Envoy cluster in JSON with HTTP/2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from simulator.cli import main
from simulator.engine import Simulation
from simulator.importers import CannotImport, read_envoy, read_resilience4j
from simulator.importers.apply import import_into_text, resolve_target
from simulator.importers.spring import parse_spring_duration
from simulator.scenario import load_scenario, parse_scenario
from simulator.scenario_policies import Breaker, Bulkhead, Retry

DATA = Path(__file__).parent / "data" / "import"
ROOT = Path(__file__).parent.parent
SPRING = str(DATA / "application.yml")
BOOTSTRAP = str(DATA / "envoy-bootstrap.yaml")
CLUSTER_JSON = str(DATA / "envoy-cluster.json")
SHOP = DATA / "shop.yaml"

# Contract section 2 (the outlier part builds the engine side): the names and Envoy's
# defaults the balancer's OutlierDetection has, in Murphy's units.
OUTLIER_DEFAULTS = {
    "consecutive_5xx": 5,
    "consecutive_gateway_failure": 5,
    "enforcing_consecutive_5xx": 1.0,
    "enforcing_consecutive_gateway_failure": 0.0,
    "interval": 10.0,
    "base_ejection_time": 30.0,
    "max_ejection_time": 300.0,
    "max_ejection_percent": 0.1,
    "success_rate_minimum_hosts": 5,
    "success_rate_request_volume": 100,
    "success_rate_stdev_factor": 1.9,
    "enforcing_success_rate": 1.0,
    "failure_percentage_threshold": 0.85,
    "enforcing_failure_percentage": 0.0,
    "failure_percentage_minimum_hosts": 5,
    "failure_percentage_request_volume": 50,
    "always_eject_one_host": False,
}


def paths(result, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.path for f in result.of(kind)]


# -- resilience4j --------------------------------------------------------------------------


def test_instance_over_its_base_config_and_the_default() -> None:
    result = read_resilience4j(SPRING, "payments")
    breaker = Breaker.model_validate(result.call["breaker"])
    # baseConfig shared (time-based, 10 s, PT2S...) and the instance's own wait in millis
    assert (breaker.window, breaker.min_calls, breaker.failure_rate) == (10.0, 20, 0.25)
    assert (breaker.slow_call_duration, breaker.slow_call_rate) == (2.0, 0.8)
    assert breaker.open_for == 10.0  # 10000: Spring reads a bare number as milliseconds
    assert breaker.half_open_calls == 10  # not the default config's 5: shared is its base
    retry = Retry.model_validate(result.call["retry"])
    assert (retry.strategy, retry.attempts, retry.base) == ("exponential", 4, 0.1)
    assert (retry.multiplier, retry.cap, retry.randomization) == (2.0, 1.0, 0.0)
    assert "breaker_open" not in retry.retry_on  # CallNotPermittedException ignored
    assert {"error", "timeout", "rejected", "rate_limited"} <= set(retry.retry_on)
    assert Bulkhead.model_validate(result.call["bulkhead"]) == Bulkhead(
        kind="semaphore", max_concurrent=10, max_wait=0.02
    )
    assert result.call["timeout"] == 2.0


def test_unknown_not_modelled_and_profiles_are_reported_with_lines() -> None:
    result = read_resilience4j(SPRING, "payments")
    unknown = result.of("unknown")
    assert [(f.path, f.line) for f in unknown] == [
        ("resilience4j.bulkhead.instances.payments.maxWaitDurtion", 63)
    ]
    not_modelled = " ".join(paths(result, "not_modelled"))
    assert "ratelimiter" in not_modelled
    assert "cancelRunningFuture" in not_modelled  # from the timelimiter's default config
    assert "on-profile" in not_modelled  # the load-test document is not merged
    assert any("server, spring, management" in f.message for f in result.of("note"))


def test_default_config_is_the_base_without_base_config() -> None:
    result = read_resilience4j(SPRING, "inventory")
    breaker = Breaker.model_validate(result.call["breaker"])
    assert (breaker.window, breaker.window_calls) == (None, 20)  # count-based, its own size
    assert (breaker.open_for, breaker.half_open_calls) == (30.0, 5)  # from configs.default
    assert breaker.slow_call_duration == 60.0  # resilience4j's default, written out
    retry = Retry.model_validate(result.call["retry"])
    assert (retry.strategy, retry.attempts, retry.base) == ("fixed", 3, 0.2)
    # no waitDuration of its own: resilience4j keeps configs.default's back-off whole, so the
    # instance's enableRandomizedWait is not used (and said so)
    assert retry.randomization == 0.0
    assert any(
        p.endswith("enableRandomizedWait") and "not used" in m
        for p, m in ((f.path, f.message) for f in result.of("note"))
    )
    assert "breaker_open" not in retry.retry_on  # retryExceptions: only IOException is retried
    assert result.call["bulkhead"] == {"kind": "pool", "max_concurrent": 8, "queue": 20}
    assert result.call["timeout"] == 0.8
    assert any("coreThreadPoolSize" in p for p in paths(result, "not_modelled"))
    assert any("automaticTransition" in p for p in paths(result, "not_modelled"))


def test_unset_everything_takes_resilience4j_defaults(tmp_path: Path) -> None:
    config = tmp_path / "application.yml"
    config.write_text(
        "resilience4j:\n"
        "  circuitbreaker: {instances: {api: {}}}\n"
        "  retry: {instances: {api: {}}}\n"
        "  bulkhead: {instances: {api: {}}}\n"
        "  timelimiter: {instances: {api: {}}}\n"
    )
    result = read_resilience4j(str(config), "api")
    assert result.call["breaker"] == {
        "failure_rate": 0.5,
        "slow_call_rate": 1.0,
        "slow_call_duration": 60.0,
        "window_calls": 100,
        "min_calls": 100,
        "open_for": 60.0,
        "half_open_calls": 10,
    }
    retry = Retry.model_validate(result.call["retry"])
    assert (retry.strategy, retry.attempts, retry.base, retry.randomization) == (
        "fixed",
        3,
        0.5,
        0.0,
    )
    assert result.call["bulkhead"] == {"kind": "semaphore", "max_concurrent": 25, "max_wait": 0.0}
    assert result.call["timeout"] == 1.0
    assert not result.of("unknown") and not result.of("set")
    assert len(result.of("default")) >= 12


def test_exponential_quirks_of_spring_properties(tmp_path: Path) -> None:
    """resilience4j's Spring binding ignores exponentialMaxWaitDuration without a
    multiplier, and the backoff flags without a waitDuration: so does the import."""
    config = tmp_path / "application.yml"
    config.write_text(
        "resilience4j.retry.instances:\n"
        "  a: {enableExponentialBackoff: true, waitDuration: 1s, exponentialMaxWaitDuration: 2s,"
        " maxAttempts: 5}\n"
        "  b: {enableExponentialBackoff: true}\n"
    )
    a = Retry.model_validate(read_resilience4j(str(config), "a").call["retry"])
    assert (a.strategy, a.multiplier) == ("exponential", 1.5)
    assert a.cap >= 1.0 * 1.5**3  # uncapped: no wait of its 5 attempts reaches the cap
    b = Retry.model_validate(read_resilience4j(str(config), "b").call["retry"])
    assert (b.strategy, b.base) == ("fixed", 0.5)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("10s", 10.0),
        ("500ms", 0.5),
        ("PT10S", 10.0),
        ("PT1M30S", 90.0),
        (250, 0.25),
        ("1m", 60.0),
        ("2h", 7200.0),
        ("100us", 1e-4),
        ("P1D", 86400.0),
        ("1500", 1.5),
    ],
)
def test_spring_durations(raw: object, seconds: float) -> None:
    assert parse_spring_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["ten seconds", "PT", True, "10 parsecs", None])
def test_bad_spring_durations_say_what_is_expected(raw: object) -> None:
    with pytest.raises(ValueError, match="500ms, 10s or PT10S"):
        parse_spring_duration(raw)


def test_missing_instance_and_bad_values_are_clear(tmp_path: Path) -> None:
    with pytest.raises(
        CannotImport,
        match=r"no resilience4j instance 'nope' \(instances: "
        r"inventory, payments\)",
    ):
        read_resilience4j(SPRING, "nope")
    config = tmp_path / "application.yml"
    config.write_text("resilience4j.circuitbreaker.instances.x:\n  failureRateThreshold: lots\n")
    with pytest.raises(CannotImport, match=r"failureRateThreshold \(line 2\)"):
        read_resilience4j(str(config), "x")
    config.write_text("resilience4j.circuitbreaker.instances.x.baseConfig: missing\n")
    with pytest.raises(CannotImport, match=r"no configs\.missing"):
        read_resilience4j(str(config), "x")


# -- Envoy ---------------------------------------------------------------------------------


def test_envoy_route_and_cluster_onto_the_call() -> None:
    result = read_envoy(BOOTSTRAP, "payments", balancer=True)
    call = result.call
    assert call["timeout"] == 0.5  # per_try_timeout
    retry = Retry.model_validate(call["retry"])
    assert (retry.strategy, retry.attempts, retry.base, retry.cap) == ("full_jitter", 4, 0.05, 1.0)
    assert set(retry.retry_on) == {"error", "timeout", "rejected", "shed", "rate_limited"}
    assert retry.budget is not None
    assert (retry.budget.percent, retry.budget.min_concurrency) == (0.25, 5)
    assert call["bulkhead"] == {"kind": "pool", "max_concurrent": 100, "queue": 50}
    assert result.backends == {"connect_timeout": 0.25}  # per host: the balancer's calls
    assert result.balancer["strategy"] == "power_of_two"  # LEAST_REQUEST, choice_count 2
    not_modelled = paths(result, "not_modelled")
    assert any(p.endswith("thresholds[1]") for p in not_modelled)  # priority HIGH
    assert any(p.endswith("route.timeout") for p in not_modelled)  # over all attempts
    assert any(p.endswith("retry_host_predicate") for p in not_modelled)


def test_envoy_outlier_detection_uses_the_contract_names_and_defaults() -> None:
    result = read_envoy(BOOTSTRAP, "payments", balancer=True)
    outlier = result.balancer["outlier_detection"]
    assert set(outlier) == set(OUTLIER_DEFAULTS)
    expected = OUTLIER_DEFAULTS | {
        "consecutive_5xx": 3,
        "interval": 5.0,
        "base_ejection_time": 15.0,
        "max_ejection_percent": 0.5,
        "success_rate_stdev_factor": 1.5,
    }
    assert outlier == pytest.approx(expected)
    assert result.balancer["healthy_panic_threshold"] == 0.3
    unknown = [(f.path, f.line) for f in result.of("unknown")]
    assert unknown == [
        ("static_resources.clusters[0].outlier_detection.consecutive_gatway_failure", 75)
    ]
    assert any(
        p.endswith("split_external_local_origin_errors") for p in paths(result, "not_modelled")
    )


def test_envoy_defaults_for_an_outlier_detection_left_empty(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("name: c\noutlier_detection: {}\n")
    result = read_envoy(str(cluster), call=False, balancer=True)
    assert result.balancer["outlier_detection"] == pytest.approx(OUTLIER_DEFAULTS)
    assert result.balancer["healthy_panic_threshold"] == 0.5


def test_envoy_always_eject_one_host_is_imported_and_defaults_to_envoys_false(
    tmp_path: Path,
) -> None:
    from simulator.scenario_policies import OutlierDetection

    assert set(OUTLIER_DEFAULTS) == set(OutlierDetection.model_fields)  # every field mapped
    murphy = OutlierDetection()
    assert {k: getattr(murphy, k) for k in OUTLIER_DEFAULTS} == pytest.approx(OUTLIER_DEFAULTS)
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("name: c\noutlier_detection: {consecutive_5xx: 3}\n")
    result = read_envoy(str(cluster), call=False, balancer=True)
    assert result.balancer["outlier_detection"]["always_eject_one_host"] is False
    assert not any("always_eject" in p for p in paths(result, "not_modelled"))
    cluster.write_text("name: c\noutlier_detection: {always_eject_one_host: true}\n")
    result = read_envoy(str(cluster), call=False, balancer=True)
    assert result.balancer["outlier_detection"]["always_eject_one_host"] is True
    cluster.write_text("name: c\noutlier_detection: {always_eject_one_host: 1}\n")
    with pytest.raises(CannotImport, match="true or false"):
        read_envoy(str(cluster), call=False, balancer=True)


def test_envoy_http2_cluster_in_json_with_envoy_defaults() -> None:
    result = read_envoy(CLUSTER_JSON, balancer=True)
    assert result.call["bulkhead"] == {"kind": "semaphore", "max_concurrent": 300, "max_wait": 0.0}
    assert "timeout" not in result.call and "retry" not in result.call  # no route: kept
    assert any("left as they are" in f.message for f in result.of("note"))
    assert result.balancer["health_check"] is True
    assert result.backends == {"connect_timeout": 1.0}
    assert "type" in paths(result, "not_modelled")


def test_envoy_max_retries_is_a_budget_of_zero_percent(tmp_path: Path) -> None:
    config = tmp_path / "envoy.yaml"
    config.write_text(
        "static_resources:\n"
        "  clusters: [{name: up, circuit_breakers: {thresholds: [{max_retries: 7}]}}]\n"
        "  listeners:\n"
        "  - filter_chains:\n"
        "    - filters:\n"
        "      - typed_config:\n"
        "          route_config:\n"
        "            virtual_hosts:\n"
        "            - retry_policy: {retry_on: 'gateway-error,bogus'}\n"
        "              routes: [{match: {prefix: /}, route: {cluster: up, timeout: 2s}}]\n"
    )
    result = read_envoy(str(config))
    retry = Retry.model_validate(result.call["retry"])
    assert retry.budget is not None and (retry.budget.percent, retry.budget.min_concurrency) == (
        0.0,
        7,
    )
    assert (retry.attempts, retry.base, retry.cap) == (2, 0.025, 0.25)  # Envoy's defaults
    # no per_try_timeout: an attempt has the route's whole timeout, none is left to retry
    assert set(retry.retry_on) == {"rejected", "shed"}
    assert result.call["timeout"] == 2.0
    assert [f.message for f in result.of("unknown")] == ["'bogus' is not an Envoy retry condition"]


def test_envoy_needs_a_cluster_name_when_there_are_several() -> None:
    with pytest.raises(CannotImport, match=r"2 clusters .* --cluster"):
        read_envoy(BOOTSTRAP)
    with pytest.raises(CannotImport, match="no cluster 'nope'"):
        read_envoy(BOOTSTRAP, "nope")


# -- onto a scenario -----------------------------------------------------------------------


def test_written_into_the_text_keeps_comments_and_validates() -> None:
    text = SHOP.read_text()
    scenario = parse_scenario(text)
    target = resolve_target(scenario, "orders->payments", None)
    result = read_resilience4j(SPRING, "payments")
    saved, updated, changes = import_into_text(text, result, target)
    assert saved.kept, saved.reason
    for comment in (
        "# The settings below",
        "# a guess, before the import",
        "# stands for the Envoy cluster",
    ):
        assert comment in saved.text
    assert parse_scenario(saved.text) == updated
    call = updated.nodes["orders"].calls[0]
    assert call.breaker is not None and call.breaker.window == 10.0
    assert any("retry replaced" in c for c in changes)


def test_a_call_to_a_balancer_takes_the_balancer(tmp_path: Path) -> None:
    scenario = load_scenario(SHOP)
    target = resolve_target(scenario, "orders->lb", None)
    assert target.balancer == "lb"
    result = read_envoy(BOOTSTRAP, "payments", balancer=True)
    _saved, updated, _ = import_into_text(SHOP.read_text(), result, target)
    assert [c.connect_timeout for c in updated.nodes["lb"].calls] == [0.25, 0.25]
    sim = Simulation(updated.model_copy(update={"duration": 10.0}))
    sim.run()
    assert sim.check_invariants() == []


def test_unknown_targets_are_named() -> None:
    scenario = load_scenario(SHOP)
    with pytest.raises(CannotImport, match=r"its calls: orders->payments, orders->lb"):
        resolve_target(scenario, "orders->db", None)
    with pytest.raises(CannotImport, match="no balancer 'orders'"):
        resolve_target(scenario, None, "orders")


def test_cli_writes_the_file_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "shop.yaml"
    runner = CliRunner()
    args = [
        "import",
        str(SHOP),
        "--resilience4j",
        SPRING,
        "--instance",
        "payments",
        "--call",
        "orders->payments",
        "-o",
        str(out),
    ]
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "unknown fields (1):" in done.stderr and "maxWaitDurtion (line 63)" in done.stderr
    assert "defaults used" in done.stderr and "not modelled" in done.stderr
    assert load_scenario(out).nodes["orders"].calls[0].timeout == 2.0
    strict = runner.invoke(main, [*args[:-2], "-o", str(tmp_path / "strict.yaml"), "--strict"])
    assert strict.exit_code == 1 and "--strict: nothing written" in strict.stderr
    assert not (tmp_path / "strict.yaml").exists()


def test_cli_to_stdout_and_usage_errors() -> None:
    runner = CliRunner()
    done = runner.invoke(main, ["import", str(SHOP), "--envoy", CLUSTER_JSON, "--balancer", "lb"])
    assert done.exit_code == 0, done.output
    assert "health_check: true" in done.stdout
    assert parse_scenario(done.stdout).nodes["lb"].health_check is True
    both = runner.invoke(
        main,
        [
            "import",
            str(SHOP),
            "--envoy",
            CLUSTER_JSON,
            "--resilience4j",
            SPRING,
            "--call",
            "orders->lb",
        ],
    )
    assert both.exit_code == 1 and "give one source" in both.stderr
    no_instance = runner.invoke(
        main, ["import", str(SHOP), "--resilience4j", SPRING, "--call", "orders->lb"]
    )
    assert no_instance.exit_code == 1 and "--instance" in no_instance.stderr


@pytest.mark.parametrize(
    ("scenario", "config", "args"),
    [
        (
            "three-tier.yaml",
            "application.yml",
            ["--resilience4j", "--instance", "orders", "--call", "gateway->orders"],
        ),
        ("load-balancer.yaml", "envoy.yaml", ["--envoy", "--call", "users->lb"]),
    ],
)
def test_the_examples_the_readme_cites_import_cleanly(
    scenario: str, config: str, args: list[str], tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[1] / "scenarios"
    out = tmp_path / scenario
    argv = [
        "import",
        str(root / scenario),
        args[0],
        str(root / "imports" / config),
        *args[1:],
        "-o",
        str(out),
        "--strict",
    ]
    done = CliRunner().invoke(main, argv)
    assert done.exit_code == 0, done.stderr
    assert "unknown fields" not in done.stderr
    assert load_scenario(out) != load_scenario(root / scenario)


HOSTILE_ENVOY = [
    "[1, 2]",
    "clusters: [1, {name: a, circuit_breakers: 5}]",
    "name: a\ncircuit_breakers: {thresholds: [3, {max_requests: -1}]}",
    "name: a\ncircuit_breakers: {thresholds: {max_requests: 4}}",
    "name: a\noutlier_detection: [1]",
    "name: a\noutlier_detection: {interval: forever}",
    "resources: [3, {'@type': x.Cluster}]",
    "name: a\nconnect_timeout: {seconds: x}",
    "name: a\ncommon_lb_config: {healthy_panic_threshold: {value: 300}}",
    "clusters: [{name: a}]\nroutes: [{route: {cluster: a, retry_policy: 7}}]",
    "clusters: [{name: a}]\nroutes: [{route: {cluster: a, retry_policy: {num_retries: x}}}]",
    "clusters: [{name: a}]\nroutes: [{route: {cluster: a, retry_policy: {retry_back_off: 1}}}]",
    "clusters: [{name: a}]\nroutes: [{route: {cluster: a, retry_policy: {retry_on: 5xx, "
    "retriable_status_codes: [abc, 503]}}}]",
    "name: a\nlb_policy: [1]\nleast_request_lb_config: {choice_count: many}",
    "{}",
    "x: ---",
    "clusters: [{name: a, connect_timeout: -1s}]",
    "clusters: [{name: a}]\nroutes: [{route: {cluster: a, timeout: nans}}]",
    "clusters: [{name: a}]\nroutes: [{route: {cluster: a, timeout: {seconds: 1e300}}}]",
]
HOSTILE_R4J = [
    "resilience4j: 5",
    "resilience4j.retry.instances.a: [1, 2]",
    "resilience4j.thread-pool-bulkhead.instances.a.coreThreadPoolSize: x",
    "resilience4j.retry.instances.a: {enableRandomizedWait: maybe, waitDuration: 1s}",
    "resilience4j.circuitbreaker.instances.a: {slidingWindowType: SOMETIMES}",
    "resilience4j.circuitbreaker.instances.a: {slidingWindowSize: 0}",
    "resilience4j.bulkhead.instances.a: {fairCallHandlingStrategyEnabled: 3}",
    "resilience4j.retry.instances.a: {baseConfig: a}\nresilience4j.retry.configs.a.baseConfig: a",
    "resilience4j.retry.instances.a.maxAttempts: 1000",
    "resilience4j.timelimiter.instances.a.timeoutDuration: -5s",
]


@pytest.mark.parametrize("text", HOSTILE_ENVOY)
def test_a_malformed_envoy_file_is_refused_or_read_never_a_crash(text: str, tmp_path: Path) -> None:
    config = tmp_path / "envoy.yaml"
    config.write_text(text)
    try:
        read_envoy(str(config), "a", balancer=True)
    except CannotImport as exc:
        assert str(exc)


@pytest.mark.parametrize("text", HOSTILE_R4J)
def test_a_malformed_spring_file_is_refused_or_read_never_a_crash(
    text: str, tmp_path: Path
) -> None:
    config = tmp_path / "application.yml"
    config.write_text(text)
    try:
        read_resilience4j(str(config), "a")
    except CannotImport as exc:
        assert str(exc)


def test_a_huge_multiplier_is_refused_and_a_long_uncapped_wait_stays_finite(
    tmp_path: Path,
) -> None:
    config = tmp_path / "application.yml"
    head = (
        "resilience4j.retry.instances.a:\n  waitDuration: 100ms\n  enableExponentialBackoff: true\n"
    )
    config.write_text(head + "  exponentialBackoffMultiplier: 1e308\n  maxAttempts: 50\n")
    with pytest.raises(CannotImport, match=r"line 4\).*at most 100"):
        read_resilience4j(str(config), "a")
    config.write_text(head + "  exponentialBackoffMultiplier: 10\n  maxAttempts: 100\n")
    retry = Retry.model_validate(read_resilience4j(str(config), "a").call["retry"])
    assert retry.cap == 1_000_000.0  # stands for "no cap", not 1e97 s


def test_a_time_window_of_zero_is_refused_by_the_schema(tmp_path: Path) -> None:
    config = tmp_path / "application.yml"
    config.write_text(
        "resilience4j.circuitbreaker.instances.a:\n  slidingWindowType: TIME_BASED\n"
        "  slidingWindowSize: 0\n"
    )
    with pytest.raises(CannotImport, match="window"):
        read_resilience4j(str(config), "a")
    with pytest.raises(ValidationError):
        Breaker.model_validate({"window": 0})


def test_examples_quote_the_call_and_an_unquoted_one_says_to_quote_it() -> None:
    import re

    texts = [CliRunner().invoke(main, [cmd, "--help"]).output for cmd in ("import", "tune")]
    for name in ("application.yml", "envoy.yaml"):
        texts.append((ROOT / "scenarios" / "imports" / name).read_text())
    for text in texts:
        flat = " ".join(text.split())
        assert not re.search(r"--call [a-z][\w-]*->", flat), flat  # unquoted: > redirects
        assert "--call '" in flat or "'api->db'" in flat
    for text in texts[:2]:  # the engine's #index: the position in calls, from 0
        assert "'api->db#1' when db is also its first call" in " ".join(text.split())
    done = CliRunner().invoke(
        main, ["import", str(SHOP), "--envoy", CLUSTER_JSON, "--call", "orders-"]
    )
    assert done.exit_code == 1 and "quote it: --call 'api->db'" in done.output


def test_envoy_json_in_proto3_camel_case_reads_as_snake_case(tmp_path: Path) -> None:
    cluster = tmp_path / "camel.json"
    cluster.write_text(
        '{"name":"app","connectTimeout":"0.25s","lbPolicy":"LEAST_REQUEST",'
        '"outlierDetection":{"consecutive5xx":2,"maxEjectionPercent":50,'
        '"enforcingConsecutiveGatewayFailure":100,"alwaysEjectOneHost":true},'
        '"commonLbConfig":{"healthyPanicThreshold":{"value":30}}}'
    )
    result = read_envoy(str(cluster), call=False, balancer=True)
    assert result.of("unknown") == []
    outlier = result.balancer["outlier_detection"]
    assert outlier["consecutive_5xx"] == 2 and outlier["max_ejection_percent"] == 0.5
    assert outlier["enforcing_consecutive_gateway_failure"] == 1.0
    assert outlier["always_eject_one_host"] is True
    assert result.balancer["strategy"] == "power_of_two"
    assert result.balancer["healthy_panic_threshold"] == 0.3
    assert result.backends["connect_timeout"] == 0.25


def test_an_envoy_file_without_a_route_keeps_the_calls_timeout_and_retry() -> None:
    before = load_scenario(SHOP).nodes["web"].calls[0]
    done = CliRunner().invoke(
        main, ["import", str(SHOP), "--envoy", CLUSTER_JSON, "--call", "web->orders"]
    )
    assert done.exit_code == 0, done.output
    after = parse_scenario(done.stdout).nodes["web"].calls[0]
    assert after.timeout == before.timeout and after.retry == before.retry
    assert after.bulkhead is not None and after.bulkhead.max_concurrent == 300


def _route_file(tmp_path: Path, route: str) -> str:
    config = tmp_path / "envoy.yaml"
    config.write_text(
        "static_resources:\n"
        "  clusters: [{name: up}]\n"
        "  listeners:\n"
        "  - filter_chains:\n"
        "    - filters:\n"
        "      - typed_config:\n"
        "          route_config:\n"
        "            virtual_hosts:\n"
        f"            - routes: [{{match: {{prefix: /}}, route: {route}}}]\n"
    )
    return str(config)


def test_envoy_back_off_with_a_cap_below_its_base_is_refused(tmp_path: Path) -> None:
    path = _route_file(
        tmp_path,
        "{cluster: up, retry_policy: {retry_on: 5xx, retry_back_off: "
        "{base_interval: 1s, max_interval: 0.1s}}}",
    )
    with pytest.raises(CannotImport, match=r"max_interval .* below base_interval .* raise"):
        read_envoy(path)


def test_envoy_hedge_policy_is_reported_with_why_it_is_not_a_murphy_hedge(tmp_path: Path) -> None:
    path = _route_file(
        tmp_path,
        "{cluster: up, hedge_policy: {hedge_on_per_try_timeout: true}, "
        "retry_policy: {retry_on: 5xx, per_try_timeout: 0.2s}}",
    )
    result = read_envoy(path)
    (finding,) = [f for f in result.of("not_modelled") if f.path.endswith("hedge_policy")]
    assert "per-try timeout" in finding.message and "counts against num_retries" in finding.message
    assert "hedge" not in result.call


def _retry_of(tmp_path: Path, extra: str) -> tuple[Retry, object]:
    config = tmp_path / "application.yml"
    config.write_text(
        "resilience4j.retry.instances.a:\n  maxAttempts: 3\n  waitDuration: 100ms\n" + extra
    )
    result = read_resilience4j(str(config), "a")
    return Retry.model_validate(result.call["retry"]), result


def test_retry_exceptions_retry_only_the_listed_classes(tmp_path: Path) -> None:
    retry, result = _retry_of(tmp_path, "  retryExceptions:\n    - java.io.IOException\n")
    # resilience4j's own exceptions (and TimeoutException) are not IOExceptions: not retried
    assert set(retry.retry_on) == {"error", "shed", "rate_limited"}
    assert any("java.io.IOException" in f.message for f in result.of("note"))  # type: ignore[attr-defined]
    retry, _ = _retry_of(
        tmp_path,
        "  retryExceptions:\n    - java.util.concurrent.TimeoutException\n",
    )
    assert retry.retry_on == ["timeout"]  # only the listed class
    retry, _ = _retry_of(tmp_path, "  retryExceptions: java.lang.Exception\n")
    assert "breaker_open" in retry.retry_on and "timeout" in retry.retry_on  # a superclass
    retry, _ = _retry_of(
        tmp_path,
        "  retryExceptions: java.lang.Exception\n  ignoreExceptions: java.lang.RuntimeException\n",
    )
    assert "breaker_open" not in retry.retry_on and "rejected" not in retry.retry_on
    assert "timeout" in retry.retry_on  # TimeoutException is checked, not a RuntimeException
    assert "error" not in retry.retry_on  # HTTP clients' exceptions are RuntimeExceptions


def test_runtime_exception_covers_the_http_clients_failures(tmp_path: Path) -> None:
    """Spring's and Feign's HTTP exceptions are RuntimeExceptions: listing the superclass
    retries the application's failures too, and not the checked TimeoutException."""
    retry, _ = _retry_of(tmp_path, "  retryExceptions: java.lang.RuntimeException\n")
    assert set(retry.retry_on) == {"error", "shed", "rate_limited", "rejected", "breaker_open"}
    retry, _ = _retry_of(tmp_path, "  ignoreExceptions: java.lang.RuntimeException\n")
    assert retry.retry_on == ["timeout"]


def test_retry_back_off_inherits_as_resilience4j_does(tmp_path: Path) -> None:
    config = tmp_path / "application.yml"
    config.write_text(
        "resilience4j.retry:\n"
        "  configs:\n"
        "    default: {waitDuration: 1s, randomizedWaitFactor: 0.2, maxAttempts: 5}\n"
        "    expo: {baseConfig: default, enableExponentialBackoff: true,\n"
        "           exponentialBackoffMultiplier: 3}\n"
        "  instances:\n"
        "    a: {enableExponentialBackoff: true}\n"
        "    b: {waitDuration: 200ms, enableRandomizedWait: true}\n"
        "    c: {baseConfig: expo, waitDuration: 100ms}\n"
    )
    a = Retry.model_validate(read_resilience4j(str(config), "a").call["retry"])
    assert (a.strategy, a.base, a.randomization, a.attempts) == ("fixed", 1.0, 0.0, 5)
    b = Retry.model_validate(read_resilience4j(str(config), "b").call["retry"])
    assert (b.base, b.randomization) == (0.2, 0.5)  # randomizedWaitFactor is not inherited
    c = Retry.model_validate(read_resilience4j(str(config), "c").call["retry"])
    # the four shape keys come from the direct base (expo), the rest key by key
    assert (c.strategy, c.base, c.multiplier, c.attempts) == ("exponential", 0.1, 3.0, 5)
