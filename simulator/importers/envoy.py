"""An Envoy cluster's circuit breakers and outlier detection, and its route's retry policy.

Reads a bootstrap (``static_resources``), a list of clusters, a CDS response
(``resources``) or one cluster, in YAML or JSON (proto3's JSON mapping: durations
``"0.25s"``, percents ``{value: 20}``, wrapped integers plain; field names in
snake_case or proto3 JSON's lowerCamelCase, as Envoy accepts both). Envoy's defaults
apply to what is unset (``max_*`` 1024, ``max_retries`` 3, retry budget 20 % / 3,
``num_retries`` 1, back-off 25 ms to 10 × base, route timeout 15 s,
``connect_timeout`` 5 s, the outlier detector's). What goes where:

- onto the call (the route's caller to the cluster): ``timeout`` (the route's
  ``per_try_timeout``, else its ``timeout``), ``connect_timeout``, ``retry``
  (``num_retries`` + 1 attempts, ``full_jitter`` from ``base_interval`` capped at
  ``max_interval``: Envoy's ``JitteredExponentialBackOffStrategy``, U(0, min(max,
  base·2ⁿ))), ``retry.budget`` (the threshold's ``retry_budget``, else
  ``max_retries`` as a budget of 0 % with that many retries always allowed) and
  ``bulkhead`` (``max_requests``/``max_connections``/``max_pending_requests``);
- onto the balancer that stands for the cluster: ``outlier_detection``,
  ``healthy_panic_threshold``, ``strategy`` (``lb_policy``) and ``health_check``
  (``health_checks``).
"""

from __future__ import annotations

import re
from typing import Any

from simulator.importers.findings import CannotImport, ImportResult, read_documents
from simulator.scenario_yaml import Located
from simulator.units import format_duration

__all__ = ["OUTLIER_FIELDS", "envoy_clusters", "read_envoy"]

_OBSERVE = "observability or connection handling, no effect on a call's outcome in Murphy"
_CLUSTER_NOT_MODELLED = {
    "type": "Murphy's balancer knows its backends (its calls); discovery is not modelled",
    "cluster_type": "discovery is not modelled",
    "eds_cluster_config": "discovery is not modelled",
    "load_assignment": "the backends are the balancer's calls",
    "hosts": "the backends are the balancer's calls",
    "dns_lookup_family": "DNS is not modelled",
    "dns_refresh_rate": "DNS is not modelled",
    "dns_failure_refresh_rate": "DNS is not modelled",
    "respect_dns_ttl": "DNS is not modelled",
    "dns_resolvers": "DNS is not modelled",
    "use_tcp_for_dns_lookups": "DNS is not modelled",
    "dns_resolution_config": "DNS is not modelled",
    "typed_dns_resolver_config": "DNS is not modelled",
    "transport_socket": "TLS costs are not modelled",
    "transport_socket_matches": "TLS costs are not modelled",
    "per_connection_buffer_limit_bytes": _OBSERVE,
    "max_requests_per_connection": _OBSERVE,
    "upstream_connection_options": _OBSERVE,
    "close_connections_on_host_health_failure": _OBSERVE,
    "ignore_health_on_host_removal": _OBSERVE,
    "alt_stat_name": _OBSERVE,
    "metadata": _OBSERVE,
    "track_cluster_stats": _OBSERVE,
    "track_timeout_budgets": _OBSERVE,
    "lrs_server": _OBSERVE,
    "wait_for_warm_on_init": _OBSERVE,
    "cleanup_interval": _OBSERVE,
    "upstream_bind_config": _OBSERVE,
    "filters": "upstream filters are not modelled",
    "protocol_selection": _OBSERVE,
    "upstream_http_protocol_options": _OBSERVE,
    "common_http_protocol_options": _OBSERVE,
    "http_protocol_options": _OBSERVE,
    "lb_subset_config": "subsets are not modelled",
    "ring_hash_lb_config": "hashing balancers are not modelled",
    "maglev_lb_config": "hashing balancers are not modelled",
    "original_dst_lb_config": "not modelled",
    "round_robin_lb_config": "slow start is not modelled",
    "load_balancing_policy": "typed balancer extensions are not modelled: use lb_policy",
    "preconnect_policy": _OBSERVE,
    "connection_pool_per_downstream_connection": _OBSERVE,
    "upstream_config": _OBSERVE,
}
_CLUSTER_READ = {
    "name",
    "connect_timeout",
    "lb_policy",
    "circuit_breakers",
    "outlier_detection",
    "common_lb_config",
    "least_request_lb_config",
    "health_checks",
    "http2_protocol_options",
    "typed_extension_protocol_options",
}
_THRESHOLD_FIELDS = {
    "priority",
    "max_connections",
    "max_pending_requests",
    "max_requests",
    "max_retries",
    "retry_budget",
    "track_remaining",
    "max_connection_pools",
}

OUTLIER_FIELDS: dict[str, tuple[str, Any]] = {
    # Envoy's field -> (how it reads: count, percent, duration, factor, flag; Envoy's default)
    "consecutive_5xx": ("count", 5),
    "consecutive_gateway_failure": ("count", 5),
    "enforcing_consecutive_5xx": ("percent", 100),
    "enforcing_consecutive_gateway_failure": ("percent", 0),
    "interval": ("duration", 10.0),
    "base_ejection_time": ("duration", 30.0),
    "max_ejection_time": ("duration", 300.0),
    "max_ejection_percent": ("percent", 10),
    "success_rate_minimum_hosts": ("count", 5),
    "success_rate_request_volume": ("count", 100),
    "success_rate_stdev_factor": ("factor", 1900),
    "enforcing_success_rate": ("percent", 100),
    "failure_percentage_threshold": ("percent", 85),
    "enforcing_failure_percentage": ("percent", 0),
    "failure_percentage_minimum_hosts": ("count", 5),
    "failure_percentage_request_volume": ("count", 50),
    "always_eject_one_host": ("flag", False),
}
"""Envoy's outlier detection as Murphy's balancer spells it (the same names, snake_case)."""

_OUTLIER_NOT_MODELLED = {
    "split_external_local_origin_errors": "Murphy does not tell local-origin failures apart",
    "consecutive_local_origin_failure": "Murphy does not tell local-origin failures apart",
    "enforcing_consecutive_local_origin_failure": "Murphy does not tell local-origin failures "
    "apart",
    "enforcing_local_origin_success_rate": "Murphy does not tell local-origin failures apart",
    "enforcing_failure_percentage_local_origin": "Murphy does not tell local-origin failures apart",
    "max_ejection_time_jitter": "ejections last exactly their time in Murphy",
    "successful_active_health_check_uncollapse_ejection": "active health checks are not modelled",
    "detect_degraded_hosts": "not modelled",
    "monitors": "not modelled",
}

_RETRY_ON = {
    "5xx": ["error", "timeout", "rejected", "shed"],
    "gateway-error": ["timeout", "rejected", "shed"],
    "reset": ["error"],
    "reset-before-request": ["error"],
    "connect-failure": ["timeout"],
    "refused-stream": ["rejected"],
}
_STATUS = {500: ["error"], 503: ["rejected", "shed"], 504: ["timeout"], 429: ["rate_limited"]}
_RETRY_POLICY_READ = {
    "retry_on",
    "num_retries",
    "per_try_timeout",
    "retry_back_off",
    "retriable_status_codes",
}
_RETRY_POLICY_NOT_MODELLED = {
    "per_try_idle_timeout": "Murphy's attempts have one timeout",
    "retry_priority": "priorities are not modelled",
    "retry_host_predicate": "Murphy does not pick hosts for a retry (a balancer chooses again)",
    "host_selection_retry_max_attempts": "Murphy does not pick hosts for a retry",
    "retriable_headers": "headers are not modelled",
    "retriable_request_headers": "headers are not modelled",
    "rate_limited_retry_back_off": "rate-limit headers are not modelled",
    "retry_options_predicates": "not modelled",
}
_ROUTE_ACTION_READ = {"cluster", "timeout", "retry_policy", "weighted_clusters"}
_ROUTE_ACTION_KNOWN = {
    "cluster_header",
    "cluster_specifier_plugin",
    "inline_cluster_specifier_plugin",
    "cluster_not_found_response_code",
    "metadata_match",
    "prefix_rewrite",
    "regex_rewrite",
    "path_rewrite_policy",
    "host_rewrite_literal",
    "host_rewrite_header",
    "host_rewrite_path_regex",
    "auto_host_rewrite",
    "append_x_forwarded_host",
    "idle_timeout",
    "early_data_policy",
    "retry_policy_typed_config",
    "request_mirror_policies",
    "priority",
    "rate_limits",
    "include_vh_rate_limits",
    "hash_policy",
    "cors",
    "max_grpc_timeout",
    "grpc_timeout_offset",
    "upgrade_configs",
    "internal_redirect_policy",
    "internal_redirect_action",
    "max_internal_redirects",
    "max_stream_duration",
}
_HEDGE_WHY = (
    "Envoy hedges only on a per-try timeout (hedge_on_per_try_timeout; initial_requests and "
    "additional_request_chance are not implemented in Envoy): the retry after a per-try "
    "timeout leaves the first attempt running. That is not written as a Murphy hedge because "
    "Envoy's hedge is a retry: it waits the retry back-off, counts against num_retries and "
    "the retry budget, and every attempt ends only at the route's timeout. The closest by "
    "hand: timeout = the route's timeout, hedge {delay: per_try_timeout, max_hedges: "
    "num_retries, cancel_loser: true}"
)


class _Node:
    """A located value with the dotted path it was reached by (for the report)."""

    def __init__(self, located: Located, path: str) -> None:
        self.located = located
        self.path = path

    @property
    def value(self) -> Any:
        return self.located.value

    @property
    def line(self) -> int:
        return self.located.line

    def get(self, key: Any) -> _Node | None:
        child = self.located.child(key)
        if child is None:
            return None
        where = f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}"
        return _Node(child, where.lstrip("."))

    def items(self) -> list[tuple[Any, _Node]]:
        out = []
        for key in self.located.children:
            node = self.get(key)
            if node is not None:
                out.append((key, node))
        return out


def read_envoy(
    path: str,
    cluster: str | None = None,
    route: str | None = None,
    call: bool = True,
    balancer: bool = False,
) -> ImportResult:
    """The Murphy settings of one Envoy cluster (and the route to it) in ``path``.

    ``call``/``balancer`` say which targets the user gave: what belongs to a missing
    target is reported, not applied.
    """
    result = ImportResult("envoy")
    docs = read_documents(path)
    if len(docs) > 1:
        raise CannotImport(f"{path}: an Envoy file holds one document, this one has {len(docs)}")
    located, camel = _snake_case(docs[0])
    root = _Node(located, "")
    if camel:
        result.add(
            "note",
            "",
            f"proto3 JSON names read as Envoy's snake_case ({', '.join(camel[:3])}"
            + (", …)" if len(camel) > 3 else ")"),
        )
    clusters = _clusters(root)
    if not clusters:
        raise CannotImport(
            f"{path}: no Envoy cluster found (a bootstrap's static_resources.clusters, "
            "a list of clusters, a CDS response or one cluster)"
        )
    chosen = _choose(clusters, cluster, path)
    name = str(chosen.value.get("name", ""))
    others = [str(c.value.get("name")) for c in clusters if c is not chosen]
    if others:
        result.add("note", "", f"other clusters not imported: {', '.join(others)}")
    _cluster_fields(chosen, result)
    http2 = _is_http2(chosen)
    if call:
        _connect_timeout(chosen, result, balancer)
        budget = _thresholds(chosen, result, http2)
        _route(root, name, route, budget, result, path)
        if "retry" in result.call and result.call["retry"] is None:
            result.add(
                "note",
                "",
                "the route does not retry: the retry limits of the circuit "
                "breakers have nothing to cap",
            )
    else:
        if balancer:
            _connect_timeout(chosen, result, balancer)
        result.add(
            "note",
            chosen.path,
            "no call given: circuit breakers and the route's retry "
            "policy are not imported (import onto a call to the cluster)",
        )
    if balancer:
        _balancer(chosen, result)
    else:
        if chosen.get("outlier_detection") is not None:
            result.add(
                "note",
                _join(chosen.path, "outlier_detection"),
                "no balancer given: not imported (import onto the balancer that stands "
                "for the cluster, or onto a call to it)",
            )
    return result


def envoy_clusters(path: str) -> list[str]:
    """The cluster names of an Envoy file, in file order (for the app's choice of cluster)."""
    docs = read_documents(path)
    return [str(c.value.get("name")) for c in _clusters(_Node(_snake_case(docs[0])[0], ""))]


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_FIVE_XX = re.compile(r"(?<=[a-z])5xx")


def _snake(key: str) -> str:
    """proto3 JSON's ``maxEjectionPercent`` / ``consecutive5xx`` as the proto's field name."""
    return _FIVE_XX.sub("_5xx", _CAMEL.sub(r"_\1", key).lower()) if key[:1].islower() else key


def _snake_case(located: Located) -> tuple[Located, list[str]]:
    """The document with every mapping key in snake_case, and the keys that were not."""
    changed: list[str] = []

    def walk(node: Located) -> Located:
        if isinstance(node.value, dict):
            value: Any = {}
            children: dict[Any, Located] = {}
            for key, child in node.children.items():
                name = _snake(key) if isinstance(key, str) else key
                if name != key and key not in changed:
                    changed.append(key)
                children[name] = walk(child)
                value[name] = children[name].value
            return Located(value, node.line, children)
        if isinstance(node.value, list):
            children = {k: walk(c) for k, c in node.children.items()}
            return Located([children[k].value for k in sorted(children)], node.line, children)
        return node

    return walk(located), changed


def _clusters(root: _Node) -> list[_Node]:
    """The clusters of the file, wherever Envoy's formats put them (mappings only)."""
    if isinstance(root.value, list):
        return [n for _, n in root.items() if isinstance(n.value, dict)]
    if not isinstance(root.value, dict):
        return []
    static = root.get("static_resources")
    for listed in (static.get("clusters") if static else None, root.get("clusters")):
        if listed is not None:
            return [n for _, n in listed.items() if isinstance(n.value, dict)]
    resources = root.get("resources")
    if resources is not None:
        return [
            n
            for _, n in resources.items()
            if isinstance(n.value, dict) and "cluster" in str(n.value.get("@type", "")).lower()
        ]
    return [root] if "name" in root.value else []


def _choose(clusters: list[_Node], name: str | None, path: str) -> _Node:
    names = [str(c.value.get("name")) for c in clusters]
    if name is None:
        if len(clusters) == 1:
            return clusters[0]
        raise CannotImport(
            f"{path}: {len(clusters)} clusters ({', '.join(names)}): choose one with --cluster"
        )
    for c in clusters:
        if c.value.get("name") == name:
            return c
    raise CannotImport(f"{path}: no cluster {name!r} (clusters: {', '.join(names)})")


def _cluster_fields(cluster: _Node, result: ImportResult) -> None:
    for key, node in cluster.items():
        if key in _CLUSTER_READ or key == "@type":
            continue
        if key in _CLUSTER_NOT_MODELLED:
            result.add("not_modelled", node.path, _CLUSTER_NOT_MODELLED[key], node.line)
        else:
            result.add("unknown", node.path, "not a field of an Envoy cluster", node.line)


def _is_http2(cluster: _Node) -> bool:
    if cluster.get("http2_protocol_options") is not None:
        return True
    options = cluster.value.get("typed_extension_protocol_options")
    return "http2_protocol_options" in str(options)


def _duration(node: _Node) -> float:
    """Seconds from proto3 JSON's ``"1.5s"`` (or ``{seconds, nanos}``); never negative."""
    raw = node.value
    seconds: float | None = None
    try:
        if isinstance(raw, str) and raw.strip().endswith("s"):
            seconds = float(raw.strip()[:-1])
        elif isinstance(raw, dict):
            seconds = float(raw.get("seconds", 0)) + float(raw.get("nanos", 0)) / 1e9
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            seconds = float(raw)
    except (TypeError, ValueError):
        seconds = None
    if seconds is None or not 0 <= seconds < 1e9:
        raise CannotImport(
            f'{node.path} (line {node.line}): expected a duration like "0.25s", got {raw!r}'
        )
    return seconds


def _count(node: _Node) -> int:
    raw = node.value.get("value") if isinstance(node.value, dict) else node.value
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise CannotImport(f"{node.path} (line {node.line}): expected a whole number, got {raw!r}")
    return raw


def _percent(node: _Node) -> float:
    """A percent as Envoy writes it (``20``, ``{value: 20.0}``) as a fraction."""
    raw = node.value.get("value") if isinstance(node.value, dict) else node.value
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 100:
        raise CannotImport(
            f"{node.path} (line {node.line}): expected a percent from 0 to 100, got {raw!r}"
        )
    return float(raw) / 100.0


def _mapping(node: _Node | None) -> _Node | None:
    """``node``, refused unless it is a mapping (an Envoy message)."""
    if node is not None and not isinstance(node.value, dict):
        raise CannotImport(f"{node.path} (line {node.line}): expected a mapping of fields")
    return node


def _connect_timeout(cluster: _Node, result: ImportResult, balancer: bool) -> None:
    """Envoy's connect timeout is per host: on the balancer's calls to its backends, when
    the cluster is a balancer (a connection to the balancer itself never fails)."""
    node = cluster.get("connect_timeout")
    value = _duration(node) if node is not None else 5.0
    (result.backends if balancer else result.call)["connect_timeout"] = value
    where = "connect_timeout of every backend call" if balancer else "connect_timeout"
    if node is None:
        result.add(
            "default", _join(cluster.path, "connect_timeout"), f"unset: Envoy's 5s → {where}"
        )
        return
    result.add("set", node.path, f"{node.value} → {where}", node.line)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _thresholds(cluster: _Node, result: ImportResult, http2: bool) -> dict[str, Any]:
    """The bulkhead from the DEFAULT priority's thresholds; returns the retry budget."""
    breakers = _mapping(cluster.get("circuit_breakers"))
    chosen: _Node | None = None
    base = _join(cluster.path, "circuit_breakers.thresholds")
    if breakers is not None:
        for key, node in breakers.items():
            if key == "per_host_thresholds":
                result.add("not_modelled", node.path, "per-host limits are not modelled", node.line)
            elif key != "thresholds":
                result.add("unknown", node.path, "not a field of circuit_breakers", node.line)
        listed = breakers.get("thresholds")
        if listed is not None and not isinstance(listed.value, list):
            raise CannotImport(f"{listed.path} (line {listed.line}): thresholds is a list")
        for _, node in listed.items() if listed is not None else []:
            if not isinstance(node.value, dict):
                raise CannotImport(f"{node.path} (line {node.line}): a threshold is a mapping")
            priority = str(node.value.get("priority", "DEFAULT")).upper()
            if priority == "DEFAULT" and chosen is None:
                chosen = node
            else:
                result.add(
                    "not_modelled",
                    node.path,
                    f"priority {priority}: Murphy has no "
                    "route priorities (the DEFAULT thresholds are imported)",
                    node.line,
                )
    values: dict[str, Any] = {}
    for key, default in (
        ("max_connections", 1024),
        ("max_pending_requests", 1024),
        ("max_requests", 1024),
        ("max_retries", 3),
    ):
        given = chosen.get(key) if chosen is not None else None
        if given is None:
            values[key] = default
            if key != "max_retries" or chosen is None or chosen.get("retry_budget") is None:
                result.add("default", f"{base}.{key}", f"unset: Envoy's {default}")
        else:
            values[key] = _count(given)
    if chosen is not None:
        for key, node in chosen.items():
            if key not in _THRESHOLD_FIELDS:
                result.add("unknown", node.path, "not a field of a threshold", node.line)
            elif key in ("track_remaining", "max_connection_pools"):
                result.add("not_modelled", node.path, _OBSERVE, node.line)
    where = chosen.path if chosen is not None else base
    if http2:
        result.call["bulkhead"] = {
            "kind": "semaphore",
            "max_concurrent": values["max_requests"],
            "max_wait": 0.0,
        }
        result.add(
            "set",
            where,
            f"HTTP/2: max_requests {values['max_requests']} → bulkhead "
            "semaphore max_concurrent, no wait (Envoy answers 503 at once)",
        )
        result.add(
            "not_modelled",
            where,
            "HTTP/2 multiplexes requests on connections: "
            "max_connections and max_pending_requests are not modelled",
        )
    else:
        concurrent = min(values["max_connections"], values["max_requests"])
        result.call["bulkhead"] = {
            "kind": "pool",
            "max_concurrent": concurrent,
            "queue": values["max_pending_requests"],
        }
        result.add(
            "set",
            where,
            f"HTTP/1.1: min(max_connections, max_requests) {concurrent} → "
            f"bulkhead pool max_concurrent (one request per connection); "
            f"max_pending_requests {values['max_pending_requests']} → its queue",
        )
    budget_node = chosen.get("retry_budget") if chosen is not None else None
    if budget_node is None:
        result.add(
            "set",
            where,
            f"max_retries {values['max_retries']} → retry.budget 0% with "
            f"min_concurrency {values['max_retries']} (at most that many retries in "
            "flight: Envoy's meaning)",
        )
        return {"percent": 0.0, "min_concurrency": values["max_retries"]}
    percent_node, least_node = (
        budget_node.get("budget_percent"),
        budget_node.get("min_retry_concurrency"),
    )
    percent = _percent(percent_node) if percent_node is not None else 0.2
    least = _count(least_node) if least_node is not None else 3
    for key, node in budget_node.items():
        if key not in ("budget_percent", "min_retry_concurrency"):
            result.add("unknown", node.path, "not a field of retry_budget", node.line)
    if percent_node is None:
        result.add("default", f"{budget_node.path}.budget_percent", "unset: Envoy's 20%")
    if least_node is None:
        result.add("default", f"{budget_node.path}.min_retry_concurrency", "unset: Envoy's 3")
    result.add(
        "set",
        budget_node.path,
        f"→ retry.budget {percent:.0%} with min_concurrency "
        f"{least} (max_retries is then ignored, as in Envoy)",
        budget_node.line,
    )
    return {"percent": percent, "min_concurrency": least}


def _routes(root: _Node, cluster: str) -> list[tuple[_Node, _Node]]:
    """Every (route, its virtual host) whose action sends to ``cluster``, in file order."""
    found: list[tuple[_Node, _Node]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node.value, dict) and isinstance(node.value.get("routes"), list):
            for _, route in (node.get("routes") or node).items():
                action = route.value.get("route") if isinstance(route.value, dict) else None
                if isinstance(action, dict) and _sends_to(action, cluster):
                    found.append((route, node))
            continue
        if isinstance(node.value, dict | list):
            stack.extend(child for _, child in reversed(node.items()))
    return found


def _sends_to(action: dict[str, Any], cluster: str) -> bool:
    if action.get("cluster") == cluster:
        return True
    weighted = action.get("weighted_clusters")
    clusters = weighted.get("clusters") if isinstance(weighted, dict) else None
    return any(isinstance(c, dict) and c.get("name") == cluster for c in clusters or [])


def _route(
    root: _Node,
    cluster: str,
    name: str | None,
    budget: dict[str, Any],
    result: ImportResult,
    path: str,
) -> None:
    routes = _routes(root, cluster)
    if name is not None:
        routes = [(r, v) for r, v in routes if r.value.get("name") == name]
        if not routes:
            raise CannotImport(f"{path}: no route named {name!r} sends to cluster {cluster!r}")
    if not routes:
        result.add(
            "note",
            "",
            f"no route in this file sends to cluster {cluster!r} (routes may come from RDS): "
            "the call's timeout and retry are left as they are",
        )
        return
    if len(routes) > 1:
        shown = ", ".join(str(r.value.get("name") or r.path) for r, _ in routes)
        raise CannotImport(
            f"{path}: {len(routes)} routes send to {cluster!r} ({shown}): choose "
            "one with --route NAME (a route's name field)"
        )
    route, host = routes[0]
    action = route.get("route")
    assert action is not None
    for key, node in action.items():
        if key in _ROUTE_ACTION_READ:
            continue
        if key == "hedge_policy":
            result.add("not_modelled", node.path, _HEDGE_WHY, node.line)
        elif key in _ROUTE_ACTION_KNOWN:
            result.add(
                "not_modelled", node.path, "a route setting Murphy does not model", node.line
            )
        else:
            result.add("unknown", node.path, "not a field of a route action", node.line)
    if action.get("weighted_clusters") is not None:
        result.add(
            "note",
            f"{action.path}.weighted_clusters",
            "the route splits traffic: imported onto the one call given",
        )
    timeout_node = action.get("timeout")
    route_timeout = _duration(timeout_node) if timeout_node is not None else 15.0
    policy = _mapping(action.get("retry_policy"))
    if policy is None and host.get("retry_policy") is not None:
        policy = _mapping(host.get("retry_policy"))
        result.add(
            "note",
            policy.path if policy else "",
            "the virtual host's retry policy applies (the route has none)",
        )
    per_try = policy.get("per_try_timeout") if policy is not None else None
    if per_try is not None:
        result.call["timeout"] = _duration(per_try)
        result.add("set", per_try.path, f"{per_try.value} → timeout (per attempt)", per_try.line)
        if route_timeout > 0:
            where = timeout_node.path if timeout_node else f"{action.path}.timeout"
            result.add(
                "not_modelled",
                where,
                f"the route's {format_duration(route_timeout)} over "
                "all attempts: Murphy has no deadline across a call's attempts",
                timeout_node.line if timeout_node else None,
            )
    else:
        result.call["timeout"] = route_timeout if route_timeout > 0 else None
        shown = (
            "0 (disabled) → no timeout"
            if route_timeout == 0
            else (f"{format_duration(route_timeout)} → timeout")
        )
        if timeout_node is not None:
            result.add("set", timeout_node.path, shown, timeout_node.line)
        else:
            result.add("default", f"{action.path}.timeout", "unset: Envoy's 15s → timeout")
    if policy is None:
        result.call["retry"] = None
        result.add("set", action.path, "no retry_policy: Envoy does not retry → no retry")
        return
    result.call["retry"] = _retry(policy, budget, per_try is not None, result)


def _retry(
    policy: _Node, budget: dict[str, Any], per_try: bool, result: ImportResult
) -> dict[str, Any]:
    for key, node in policy.items():
        if key in _RETRY_POLICY_NOT_MODELLED:
            result.add("not_modelled", node.path, _RETRY_POLICY_NOT_MODELLED[key], node.line)
        elif key not in _RETRY_POLICY_READ:
            result.add("unknown", node.path, "not a field of a retry policy", node.line)
    fields: dict[str, Any] = {"strategy": "full_jitter", "budget": budget}
    tries = policy.get("num_retries")
    retries = _count(tries) if tries is not None else 1
    if tries is None:
        result.add("default", f"{policy.path}.num_retries", "unset: Envoy's 1 → attempts 2")
    else:
        result.add("set", tries.path, f"{retries} → attempts {retries + 1}", tries.line)
    fields["attempts"] = retries + 1
    fields["retry_on"] = _retry_on(policy, per_try, result)
    back_off = _mapping(policy.get("retry_back_off"))
    base_node = back_off.get("base_interval") if back_off is not None else None
    max_node = back_off.get("max_interval") if back_off is not None else None
    base = _duration(base_node) if base_node is not None else 0.025
    cap = _duration(max_node) if max_node is not None else 10 * base
    if max_node is not None and cap < base:
        raise CannotImport(
            f"{max_node.path} (line {max_node.line}): max_interval {max_node.value} is below "
            f"base_interval {format_duration(base)}: Envoy refuses it; raise max_interval"
        )
    for key, node in back_off.items() if back_off is not None else []:
        if key not in ("base_interval", "max_interval"):
            result.add("unknown", node.path, "not a field of retry_back_off", node.line)
    where = back_off.path if back_off is not None else f"{policy.path}.retry_back_off"
    shown = f"full_jitter base {format_duration(base)} cap {format_duration(cap)}"
    if base_node is None:
        result.add("default", f"{where}.base_interval", "unset: Envoy's 25ms → base")
    if max_node is None:
        result.add("default", f"{where}.max_interval", "unset: Envoy's 10 × base → cap")
    result.add(
        "note",
        where,
        f"{shown}: Envoy's fully jittered back-off, U(0, min(cap, base·2ⁿ)) before retry n+1",
    )
    fields["base"], fields["cap"] = base, cap
    return fields


def _retry_on(policy: _Node, per_try: bool, result: ImportResult) -> list[str]:
    node = policy.get("retry_on")
    outcomes: list[str] = []
    if node is None:
        result.add("note", policy.path, "no retry_on: Envoy retries nothing → retry_on empty")
        return outcomes
    codes_node = policy.get("retriable_status_codes")
    for token in (t.strip() for t in str(node.value).split(",") if t.strip()):
        if token in _RETRY_ON:
            outcomes += [o for o in _RETRY_ON[token] if o not in outcomes]
        elif token == "retriable-status-codes" and codes_node is not None:
            for code in codes_node.value if isinstance(codes_node.value, list) else []:
                mapped = _STATUS.get(int(code)) if str(code).isdigit() else None
                if mapped:
                    outcomes += [o for o in mapped if o not in outcomes]
                else:
                    result.add(
                        "not_modelled",
                        codes_node.path,
                        f"status {code}: no Murphy outcome answers it",
                        codes_node.line,
                    )
        elif token in (
            "retriable-4xx",
            "retriable-headers",
            "envoy-ratelimited",
            "http3-post-connect-failure",
            "retriable-status-codes",
        ):
            result.add(
                "not_modelled", node.path, f"{token}: no Murphy outcome answers it", node.line
            )
        else:
            result.add(
                "unknown", node.path, f"{token!r} is not an Envoy retry condition", node.line
            )
    if not per_try and "timeout" in outcomes:
        outcomes.remove("timeout")
        result.add(
            "note",
            node.path,
            "without per_try_timeout an attempt's timeout is the "
            "route's: once it fires no time is left to retry → timeout not in retry_on",
        )
    result.add(
        "set", node.path, f"{node.value} → retry_on: {', '.join(outcomes) or 'nothing'}", node.line
    )
    return outcomes


def _balancer(cluster: _Node, result: ImportResult) -> None:
    policy = cluster.get("lb_policy")
    name = str(policy.value).upper() if policy is not None else "ROUND_ROBIN"
    choice = cluster.get("least_request_lb_config")
    wanted = {
        "ROUND_ROBIN": "round_robin",
        "RANDOM": "random",
        "LEAST_REQUEST": "power_of_two",
    }.get(name)
    if wanted is None:
        result.add(
            "not_modelled",
            policy.path if policy else "",
            f"lb_policy {name}: no Murphy strategy does it",
            policy.line if policy else None,
        )
    else:
        result.balancer["strategy"] = wanted
        if policy is None:
            result.add(
                "default",
                _join(cluster.path, "lb_policy"),
                "unset: Envoy's ROUND_ROBIN → strategy round_robin",
            )
        else:
            result.add("set", policy.path, f"{name} → strategy {wanted}", policy.line)
    if choice is not None:
        count = choice.get("choice_count")
        if count is not None and _count(count) != 2:
            result.add(
                "not_modelled", count.path, "Murphy's power of two choices compares two", count.line
            )
    checks = cluster.get("health_checks")
    if checks is not None:
        result.balancer["health_check"] = True
        result.add(
            "set",
            checks.path,
            "→ health_check: true (Murphy's check is ideal and "
            "instant: an upper bound on what these achieve)",
            checks.line,
        )
    _panic(cluster, result)
    _outlier(cluster, result)


def _panic(cluster: _Node, result: ImportResult) -> None:
    common = _mapping(cluster.get("common_lb_config"))
    node = common.get("healthy_panic_threshold") if common is not None else None
    if common is not None:
        for key, child in common.items():
            if key != "healthy_panic_threshold":
                result.add(
                    "not_modelled",
                    child.path,
                    "a balancer setting Murphy does not model",
                    child.line,
                )
    if node is None:
        result.balancer["healthy_panic_threshold"] = 0.5
        result.add(
            "default",
            _join(cluster.path, "common_lb_config.healthy_panic_threshold"),
            "unset: Envoy's 50% → healthy_panic_threshold",
        )
        return
    result.balancer["healthy_panic_threshold"] = _percent(node)
    result.add("set", node.path, f"→ healthy_panic_threshold {_percent(node):.0%}", node.line)


def _outlier(cluster: _Node, result: ImportResult) -> None:
    node = _mapping(cluster.get("outlier_detection"))
    if node is None:
        return
    fields: dict[str, Any] = {}
    for key, (kind, default) in OUTLIER_FIELDS.items():
        child = node.get(key)
        if child is None:
            shown = str(default).lower() if isinstance(default, bool) else default
            result.add("default", f"{node.path}.{key}", f"unset: Envoy's {shown}")
            raw: Any = default
        else:
            raw = _outlier_value(child, kind)
            result.add("set", child.path, f"{child.value} → outlier_detection.{key}", child.line)
        fields[key] = _outlier_murphy(raw, kind)
    for key, child in node.items():
        if key in _OUTLIER_NOT_MODELLED:
            result.add("not_modelled", child.path, _OUTLIER_NOT_MODELLED[key], child.line)
        elif key not in OUTLIER_FIELDS:
            result.add("unknown", child.path, "not a field of outlier_detection", child.line)
    result.balancer["outlier_detection"] = fields


def _outlier_value(node: _Node, kind: str) -> Any:
    if kind == "flag":
        value = node.value
        if not isinstance(value, bool):
            raise CannotImport(
                f"{node.path} (line {node.line}): expected true or false, got {value!r}"
            )
        return value
    if kind == "duration":
        return _duration(node)
    if kind == "percent":
        return _percent(node) * 100.0
    return _count(node)


def _outlier_murphy(raw: Any, kind: str) -> Any:
    """Envoy's value in Murphy's units: percents as fractions, the stdev factor / 1000."""
    if kind == "percent":
        return float(raw) / 100.0
    if kind == "factor":
        return float(raw) / 1000.0
    return raw
