"""What the drawing shows at one moment of a run, as plain dicts. Qt-free.

``node_states`` and ``edge_states`` turn a snapshot (and the time series up to
it) into per-item states: health, utilisation, queue, active faults, traffic,
error share, amplification and breaker. Which badges a node shows follows its
kind (``gui.kinds``): a broker its messages held, a relay its pending outbox
rows, a consumer its lag. ``add_message_states`` adds to each message edge what
its flows (``snapshot["flows"]``) say: lag, lost, duplicated, applied twice,
dead-lettered. Every snapshot key beyond time, nodes and edges may be missing.
The canvas overlay only paints them.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import networkx as nx
import numpy as np

from gui.kinds import EDGE_KINDS, KINDS
from gui.plots.figures import PlotFilter
from simulator.amplification import EdgeAmplification, measured_in_bucket, worst_case
from simulator.faults import active_faults
from simulator.scenario import Scenario
from simulator.scenario_nodes import call_edge_names, publish_edge_names
from simulator.topology import to_graph

HEALTH_COLOURS = {
    "ok": "#2a9d8f",
    "busy": "#e9c46a",
    "saturated": "#e76f51",
    "crashed": "#9b2226",
    "partitioned": "#6d597a",
    "throttled": "#d4a017",
    "failing": "#e63946",
}
BREAKER_COLOURS = {"closed": "#2a9d8f", "open": "#c1121f", "half_open": "#f4a261"}


def edge_names(scenario: Scenario) -> dict[tuple, str]:
    """Canvas edge key → the engine's edge name.

    ``("call", a, i)`` → ``a->b`` (``a->b#i`` for a repeated target); ``("publish", a, i)`` →
    ``a->broker.queue`` (``#i`` for a repeat); a relay's ``("relay", r)`` → ``r->broker.queue``
    and ``("outbox", r)`` → ``r->database``. A consumer's ``("consume", c)`` is no engine edge:
    it is named ``broker.queue->c`` here, for its flows.
    """
    out: dict[tuple, str] = {}
    for name, node in scenario.nodes.items():
        for index, edge in enumerate(call_edge_names(name, node.calls)):
            out[("call", name, index)] = edge
        for index, edge in enumerate(publish_edge_names(name, node.publishes)):
            out[("publish", name, index)] = edge
        if node.kind == "relay":
            out[("outbox", name)] = f"{name}->{node.database}"
            out[("relay", name)] = f"{name}->{node.publish.to}.{node.publish.queue}"
        if node.kind == "consumer":
            out[("consume", name)] = f"{node.broker}.{node.queue}->{name}"
    return out


def edge_ends(scenario: Scenario) -> dict[tuple, tuple[str, str]]:
    """Canvas edge key → (source, target) as drawn."""
    out: dict[tuple, tuple[str, str]] = {}
    for name, node in scenario.nodes.items():
        for index, call in enumerate(node.calls):
            out[("call", name, index)] = (name, call.to)
        for index, publish in enumerate(node.publishes):
            out[("publish", name, index)] = (name, publish.to)
        if node.kind == "relay":
            out[("outbox", name)] = (name, node.database)
            out[("relay", name)] = (name, node.publish.to)
        if node.kind == "consumer":
            out[("consume", name)] = (node.broker, name)
    return out


def queue_of(scenario: Scenario, key: tuple) -> tuple[str, str] | None:
    """(broker, queue) a message edge carries, or None for a call or an outbox read."""
    node = scenario.nodes.get(key[1])
    if node is None:
        return None
    if key[0] == "publish" and key[2] < len(node.publishes):
        return node.publishes[key[2]].to, node.publishes[key[2]].queue
    if key[0] == "relay" and node.kind == "relay":
        return node.publish.to, node.publish.queue
    if key[0] == "consume" and node.kind == "consumer":
        return node.broker, node.queue
    return None


def short_seconds(seconds: float) -> str:
    """A lag or an age for a badge: 850ms, 4.2s, 3.5min."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}min"


# -- nodes ----------------------------------------------------------------------------------


def _bucket_row(columns: dict[str, np.ndarray], t: float, width: float) -> int | None:
    """The last bucket that has ended by ``t`` (or the current one, early in a run). In a
    replay ``t`` is the time shown, not the (maybe older) snapshot's; the columns' last row
    is a floor for a snapshot taken before the newest bucket started.

    Every live figure on the drawing (a client's failing share, an edge's failing
    share, its attempts per call, the compound amplification) is counted over this
    one bucket, so that figures shown side by side describe the same span of time.
    """
    rows = len(columns.get("time_s", ()))
    if rows == 0:
        return None
    t = max(t, float(columns["time_s"][-1]))
    return min(max(int(t / width + 1e-9) - 1, 0), rows - 1)


def window_text(row: int | None, width: float) -> str:
    """The span a live figure counts over, for a tooltip."""
    if row is None:
        return "no time bucket has ended yet"
    return f"the time bucket t = {row * width:g}–{(row + 1) * width:g} s ({width:g} s long)"


def node_states(
    scenario: Scenario,
    snapshot: dict[str, Any],
    columns: dict[str, np.ndarray],
    width: float,
    at: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Per node, what its live badges (``GuiKind.badges``) show; nodes the snapshot does not
    describe yet get no state. Missing snapshot keys are tolerated (an older engine).

    ``at`` is the time shown when replaying: snapshots are as sparse as the frames were, so
    the faults shown are those of the timeline at ``at``, not those of an older snapshot.
    """
    active: dict[str, list[str]] = {}
    indices = snapshot.get("active_faults", []) if at is None else active_faults(scenario, at)
    for i in indices:
        if i < len(scenario.faults):
            fault = scenario.faults[i]
            active.setdefault(fault.target, []).append(fault.label())
    live_nodes = snapshot.get("nodes") or {}
    queues = snapshot.get("queues") or {}
    row = _bucket_row(columns, snapshot["time"] if at is None else at, width)
    out = {}
    for name, node in scenario.nodes.items():
        entry = KINDS.get(node.kind)
        badges = entry.badges if entry is not None else ("load",)
        faults = active.get(name, [])
        live = live_nodes.get(name)
        if "route" in badges:
            out[name] = _client_state(name, columns, row, width, faults)
            continue
        if "depth" in badges:
            held = _broker_queues(name, queues)
            if live is None and not held:
                continue
            out[name] = _broker_state(node, live, held, faults)
            continue
        if live is None:
            continue
        state = _with_ejections(_with_resources(_server_state(live, faults), live), live)
        if "outbox" in badges:
            state = _with_outbox(state, live)
        if "lag" in badges:
            state = _with_lag(state, _consumer_lag(name, snapshot.get("flows")))
        out[name] = state
    return out


def _server_state(node: dict[str, Any], faults: list[str]) -> dict[str, Any]:
    workers = node.get("workers")
    capacity = node.get("capacity") if node.get("capacity") is not None else workers
    busy, queue, limit = node.get("busy", 0), node.get("queue", 0), node.get("queue_limit")
    utilization = busy / workers if workers else 0.0
    full = capacity is not None and busy >= capacity and (queue > 0 or not limit)
    health = _health(node)
    if health == "ok":
        if (limit and queue >= limit) or full:
            health = "saturated"
        elif node.get("throttled"):
            health = "throttled"
        elif node.get("failing"):
            health = "failing"
        else:
            health = "busy" if utilization >= 0.8 else "ok"
    # An unbounded queue gets a log gauge that reads full at 1000 waiting.
    queue_share = min(1.0, queue / limit if limit else math.log10(1 + queue) / 3)
    workers_text = f"{busy}/{workers:g}" if workers is not None else f"{busy}"
    if node.get("throttled") and capacity is not None:
        workers_text += f" (cap {capacity:g})"
    queue_text = f"q {queue}/{limit}" if limit else f"q {queue}"
    return {
        "kind": "server",
        "health": health,
        "utilization": round(min(1.0, utilization), 2),
        "queue": queue,
        "queue_share": queue_share,
        "text": f"{workers_text} busy · {queue_text}",
        "workers_text": workers_text,
        "faults": faults,
    }


def _with_resources(state: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """Memory against its limit, corrupt records at rest, and requests inside against an
    adaptive concurrency limit, where the node has them."""
    extra = []
    used, limit = live.get("memory_mb"), live.get("memory_limit_mb")
    if used is not None and limit:
        share = used / limit
        extra.append(f"mem {100 * share:.0f}%")
        state = {**state, "memory_share": round(share, 3)}
    if live.get("corrupt_at_rest"):
        extra.append(f"{live['corrupt_at_rest']} corrupt")
    if live.get("limit") is not None:  # an adaptive concurrency limit: inside / limit
        extra.append(f"lim {live.get('limit_in_flight', 0)}/{live['limit']}")
    if not extra:
        return state
    return {**state, "text": " · ".join([state["text"], *extra])}


def _with_ejections(state: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """A balancer's backends ejected by its outlier detection, and its panic mode."""
    ejected, panic = live.get("ejected"), live.get("panic")
    if not ejected and not panic:
        return state
    extra = [f"{len(ejected)} ejected"] if ejected else []
    if panic:
        extra.append("PANIC")
    return {**state, "text": " · ".join([state["text"], *extra])}


def _health(node: dict[str, Any] | None) -> str:
    """Crashed or partitioned (they trump load), else "ok" for the caller to refine."""
    if node and node.get("down"):
        return "crashed"
    if node and node.get("partitioned"):
        return "partitioned"
    return "ok"


# -- messages: brokers, relays, consumers, flows -------------------------------------------------


def _broker_queues(broker: str, queues: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The snapshot's ``queues`` entries of one broker, by queue name."""
    out = {}
    for key, entry in queues.items():
        if entry.get("broker", key.rsplit(".", 1)[0]) == broker:
            out[entry.get("queue", key.rsplit(".", 1)[-1])] = entry
    return out


def _broker_state(
    node: Any, live: dict[str, Any] | None, held: dict[str, dict[str, Any]], faults: list[str]
) -> dict[str, Any]:
    """Messages held, not yet acknowledged and dead-lettered; the gauge is the fullest queue."""
    depth = sum(int(q.get("depth", 0)) for q in held.values())
    unacked = sum(int(q.get("unacked", 0)) for q in held.values())
    dead = sum(int(q.get("dead_letters", 0)) for q in held.values())
    share = 0.0
    for name, entry in held.items():
        spec = node.queues.get(name)
        if spec is not None:
            share = max(share, min(1.0, int(entry.get("depth", 0)) / spec.capacity))
    health = _health(live)
    if health == "ok":
        health = "saturated" if share >= 0.9 else ("busy" if share >= 0.5 else "ok")
    text = f"{depth} held · {unacked} unacked" + (f" · {dead} dead" if dead else "")
    return {"kind": "broker", "health": health, "utilization": round(share, 2), "queue": depth,
            "queue_share": share, "text": text, "depth": depth, "unacked": unacked,
            "dead_letters": dead, "faults": faults}  # fmt: skip


def _with_outbox(state: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    pending = live.get("outbox")
    if pending is None:
        return state
    pending = int(pending)
    # A relay's own workers say little: how far its outbox is behind says whether it keeps up.
    # The gauge is logarithmic and reads full at 1000 rows waiting.
    share = min(1.0, math.log10(1 + pending) / 3)
    health = _health(live)
    if health == "ok":
        health = "saturated" if share >= 0.9 else ("busy" if share >= 0.6 else "ok")
    return {**state, "kind": "relay", "health": health, "utilization": round(share, 2),
            "outbox": pending, "queue": pending, "queue_share": share,
            "text": f"outbox {pending} pending"}  # fmt: skip


def _consumer_lag(consumer: str, flows: dict[str, dict[str, Any]] | None) -> float | None:
    lags = [float(f.get("lag_s", 0.0)) for f in (flows or {}).values()
            if f.get("consumer") == consumer]  # fmt: skip
    return max(lags) if lags else None


def _with_lag(state: dict[str, Any], lag: float | None) -> dict[str, Any]:
    if lag is None:
        return state
    text = f"{state['workers_text']} busy · lag {short_seconds(lag)}"
    return {**state, "kind": "consumer", "lag_s": lag, "text": text}


def flow_totals(scenario: Scenario, snapshot: dict[str, Any]) -> dict[tuple, dict[str, float]]:
    """Per message edge (canvas key), its flows added up: lag (the oldest), lost, duplicates;
    for a consumer's edge also applied twice and dead-lettered. Empty without ``flows``."""
    flows = snapshot.get("flows")
    if not flows:
        return {}
    out: dict[tuple, dict[str, float]] = {}
    for key in edge_names(scenario):
        carried = queue_of(scenario, key)
        if carried is None:
            continue
        broker, queue = carried
        end = "consumer" if key[0] == "consume" else "producer"
        mine = [
            f
            for f in flows.values()
            if f.get("broker") == broker
            and f.get("queue") in (queue, f"{broker}.{queue}")
            and f.get(end) == key[1]
        ]
        lag = max((float(f.get("lag_s", 0)) for f in mine), default=0.0)
        total: dict[str, float] = {"lag_s": lag}
        consume = key[0] == "consume"
        for field in ("applied_twice", "dead_lettered") if consume else ("lost", "duplicates"):
            total[field] = sum(int(f.get(field, 0)) for f in mine)
        out[key] = total
    return out


def _client_state(
    name: str, columns: dict[str, np.ndarray], row: int | None, width: float, faults: list[str]
) -> dict[str, Any]:
    """Requests that ended in the bucket: each counted once, after all its retries.

    ``share`` is the share of the client's requests that failed (not answered, nor
    answered by a fallback); an edge's share counts attempts instead, and every
    retry of a failing call is one more failed attempt: the two differ by design.
    """
    ok = failed = 0.0
    if row is not None and f"route.{name}.goodput" in columns:
        ok = float(columns[f"route.{name}.goodput"][row]) / width
        failed = float(columns[f"route.{name}.failed"][row]) / width
    share = failed / (ok + failed) if ok + failed else 0.0
    health = "failing" if share > 0.2 else ("busy" if share > 0.01 else "ok")
    text = f"{ok:.0f} ok/s" + (f" · {share * 100:.0f}% of requests fail" if share > 0.005 else "")
    tooltip = (
        f"{name}, over {window_text(row, width)}:\n"
        f"{ok:.1f} requests/s answered (ok or by a fallback), {failed:.1f}/s failed:"
        f" {share:.0%} of the requests that ended failed.\n"
        'Each request counts once, after all its retries; a call\'s "% of attempts fail"'
        " counts every try, so it reads higher when retries fail too."
    )
    return {"kind": "client", "health": health, "utilization": 0.0, "queue": 0,
            "queue_share": 0.0, "text": text, "faults": faults, "failing_share": share,
            "tooltip": tooltip}  # fmt: skip


# -- edges ----------------------------------------------------------------------------------


def edge_states(
    snapshot: dict[str, Any],
    columns: dict[str, np.ndarray],
    width: float,
    scenario: Scenario | None = None,
    at: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Per engine edge: width by traffic, colour by the share of attempts that fail, attempts
    per call (the edge's own retries), breaker; with ``scenario``, the compound
    amplification where it exceeds the edge's own (``compound_state``). ``at``: the time
    shown in a replay (the snapshot may be older)."""
    row = _bucket_row(columns, snapshot["time"] if at is None else at, width)
    live_edges = snapshot.get("edges") or {}
    rates = {}
    for edge in live_edges:
        values = [columns.get(f"edge.{edge}.{k}") for k in ("requests", "attempts", "failures")]
        if row is None or any(v is None for v in values):
            rates[edge] = (0.0, 0.0, 0.0)
        else:
            rates[edge] = tuple(float(v[row]) / width for v in values)  # type: ignore[index]
    peak = max((r[1] for r in rates.values()), default=0.0)
    amplification = _worst(scenario) if scenario is not None else {}
    now = measured_in_bucket(amplification, columns, row) if row is not None else {}
    window = window_text(row, width)
    out = {}
    for edge, live in live_edges.items():
        requests, attempts, failures = rates[edge]
        share = min(1.0, failures / attempts) if attempts else 0.0
        scale = math.log1p(attempts) / math.log1p(peak) if peak > 0 else 0.0
        own = round(attempts / requests, 1) if requests else 1.0
        state = {
            "error_share": round(share, 2),
            "amplification": own,
            "breaker": live.get("breaker"),
            "width": round(2 * (1.5 + 6.5 * scale)) / 2,
            "colour": error_colour(round(share, 2)),
            "window": window,
            "rates": (round(requests, 1), round(attempts, 1), round(failures, 1)),
        }
        if edge in amplification:
            state.update(compound_state(amplification[edge], now.get(edge), own))
        out[edge] = state
    _mark_ejected(snapshot, out)
    return out


def _mark_ejected(snapshot: dict[str, Any], edges: dict[str, dict[str, Any]]) -> None:
    """The calls to backends a balancer's outlier detection has ejected (``ejected``), and
    whether that balancer is in panic, routing to them anyway (``ejected_in_panic``)."""
    for node in (snapshot.get("nodes") or {}).values():
        for edge in node.get("ejected") or ():
            if edge in edges:
                edges[edge]["ejected"] = True
                edges[edge]["ejected_in_panic"] = bool(node.get("panic"))


_WORST_CACHE: dict[int, tuple[Scenario, dict[str, EdgeAmplification]]] = {}


def _worst(scenario: Scenario) -> dict[str, EdgeAmplification]:
    """``worst_case`` once per scenario object: a run asks every few frames."""
    hit = _WORST_CACHE.get(id(scenario))
    if hit is None or hit[0] is not scenario:
        _WORST_CACHE.clear()  # one scenario runs at a time
        hit = (scenario, worst_case(scenario))
        _WORST_CACHE[id(scenario)] = hit
    return hit[1]


def compound_state(amp: EdgeAmplification, now: float | None, own: float) -> dict[str, Any]:
    """The compound figures of an edge, if they say more than its own ratio: a worst case
    above the call's own tries, or a measured product above its measured attempts per call.

    ``compound_severity`` grows with the measured figure (1 at ten attempts per user
    request), or with the worst case before anything was measured.
    """
    current = round(now, 1) if now is not None else None
    if amp.worst <= amp.own and (current is None or current <= own * 1.05 + 0.05):
        return {}
    figure = current if current is not None else float(amp.worst)
    return {
        "compound_worst": amp.worst,
        "compound_now": current,
        "compound_route": " → ".join(amp.route),
        "compound_clients": sorted(amp.clients),
        "compound_notes": list(amp.notes),
        "compound_severity": round(min(1.0, math.log10(max(figure, 1.0))), 2),
    }


def edge_tooltip(name: str, state: dict[str, Any]) -> str:
    """What each live figure of an edge means, and over which window it is counted."""
    requests, attempts, failures = state.get("rates", (0.0, 0.0, 0.0))
    lines = [f"{name}, over {state.get('window', 'the last time bucket')}:"]
    lines.append(
        f"{attempts:.1f} attempts/s for {requests:.1f} calls/s; {failures:.1f} attempts/s failed:"
        f" {state.get('error_share', 0):.0%} of attempts fail (every try counts, retries"
        ' included; a client\'s "% of requests fail" counts each request once).'
    )
    if state.get("amplification", 1) >= 1.05:
        lines.append(f"×{state['amplification']:.1f} attempts per call: this call's own retries.")
    if "compound_worst" in state:
        now = state.get("compound_now")
        clients = ", ".join(state.get("compound_clients", []))
        measured = (
            f"×{now:.1f} now: attempts here per request sent by {clients} in the same bucket."
            if now is not None
            else f"Nothing measured yet: {clients} sent no request in this bucket."
        )
        lines += [
            measured,
            f"×{state['compound_worst']} worst: the retries of every layer multiplied along"
            f" {state['compound_route']}, if the last node fails every attempt.",
            *state.get("compound_notes", []),
        ]
    if state.get("breaker"):
        lines.append(f"Breaker: {state['breaker'].replace('_', '-')}.")
    if state.get("ejected"):
        lines.append(
            "Ejected by the balancer's outlier detection: "
            + (
                "in panic (too few healthy backends), so it is used anyway."
                if state.get("ejected_in_panic")
                else "no requests go to it until its ejection time has passed."
            )
        )
    return "\n".join(lines)


def add_message_states(
    scenario: Scenario, snapshot: dict[str, Any], edges: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``edges`` (by edge name) with each message edge's flow totals added: a publish's lag,
    lost and duplicated messages, a consumer's lag, double applications and dead letters.
    A consumer's edge, which is no engine edge, gets a plain state of its own."""
    names = edge_names(scenario)
    for key, totals in flow_totals(scenario, snapshot).items():
        name = names[key]
        base = edges.get(name) or {"error_share": 0.0, "amplification": 1.0, "breaker": None,
                                   "width": 1.5, "colour": error_colour(0.0)}  # fmt: skip
        edges[name] = {**base, **totals}
    return edges


def message_badges(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, colour) badges for a message edge's flows: what went wrong, and how far behind."""
    out = []
    lag = state.get("lag_s")
    if lag is not None and lag >= 0.05:
        out.append((f"lag {short_seconds(lag)}", "#e9a23b" if lag < 5 else "#c1121f"))
    if state.get("lost"):
        out.append((f"{state['lost']:.0f} lost", "#c1121f"))
    if state.get("duplicates"):
        out.append((f"{state['duplicates']:.0f} dup", "#b5179e"))
    if state.get("applied_twice"):
        out.append((f"{state['applied_twice']:.0f} applied twice", "#b5179e"))
    if state.get("dead_lettered"):
        out.append((f"{state['dead_lettered']:.0f} DLQ", "#6c757d"))
    return out


def error_colour(share: float) -> str:
    """Grey-blue when healthy, through amber, to red when every attempt fails."""
    stops = [(0.0, (0x45, 0x7B, 0x9D)), (0.1, (0xE9, 0xA2, 0x3B)), (0.5, (0xC1, 0x12, 0x1F))]
    share = max(0.0, min(1.0, share))
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if share <= b:
            f = (share - a) / (b - a)
            mixed = (round(x + (y - x) * f) for x, y in zip(ca, cb, strict=True))
            return "#" + "".join(f"{c:02x}" for c in mixed)
    return "#c1121f"


# -- what a click on the drawing filters the plots to ----------------------------------------


def plot_filter(scenario: Scenario, key: tuple | None) -> PlotFilter:
    """Plots about a node (the routes that reach it) or an edge; everything for no key."""
    if key is None or key[0] not in ("node", *EDGE_KINDS) or key[1] not in scenario.nodes:
        return PlotFilter()
    graph = to_graph(scenario)  # calls and message paths: a consumer is reached too
    names, ends = edge_names(scenario), edge_ends(scenario)
    clients = [n for n, v in scenario.nodes.items() if v.kind == "client"]

    def routes_to(node: str) -> set[str]:
        return {c for c in clients if c == node or node in nx.descendants(graph, c)}

    if key[0] == "node":
        node = key[1]
        mine = [k for k, (a, b) in ends.items() if node in (a, b)]
        edges = {names[k] for k in mine if k[0] != "consume"}
        carried = [queue_of(scenario, k) for k in mine]
        queues = {f"{c[0]}.{c[1]}" for c in carried if c is not None}
        spec = scenario.nodes[node]
        if spec.kind == "broker":
            queues |= {f"{node}.{q}" for q in spec.queues}
        # A client has no workers of its own: show the ones its requests keep busy.
        nodes = {node} | (nx.descendants(graph, node) if spec.kind == "client" else set())
        return PlotFilter(node, routes_to(node), nodes, edges, ("node", node), queues, edges)
    if key not in names:
        return PlotFilter()
    edge, (source, target) = names[key], ends[key]
    carried = queue_of(scenario, key)
    queues = {f"{carried[0]}.{carried[1]}"} if carried else set()
    label = f"{source} → {target}"
    if key[0] == "consume":
        return PlotFilter(label, routes_to(source), {source, target}, set(), None, queues, set())
    return PlotFilter(label, routes_to(source), {source, target}, {edge}, ("call", edge), queues,
                      {edge})  # fmt: skip
