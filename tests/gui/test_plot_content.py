"""What the live plots draw: resources (pools, memory against its limit), a client's
traffic, spans with no answers. From hand-made columns and short runs; Qt-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from gui.plots.figures import PlotData, PlotFilter, build, needed_plots
from simulator.scenario import load_scenario
from simulator.scenario_policies import Pool

ROOT = Path(__file__).resolve().parents[2]


def test_the_resources_plot_draws_pools_and_memory_against_their_limits():
    t = np.arange(1.0, 11.0)
    cols = {"time_s": t, "pool.api->db.in_use": t * 3, "pool.api->db.waiters": t,
            "pool.web->db.in_use": t, "node.api.memory_mb": t * 50,
            "node.api.queue": t}  # fmt: skip
    limits = {"pool.api->db.in_use": 30.0, "pool.web->db.in_use": 30.0,
              "node.api.memory_mb": 500.0}  # fmt: skip
    data = PlotData(cols, [], 10.0, 10.0, filter=PlotFilter("api", pools={"api->db"}),
                    limits=limits)  # fmt: skip
    figure = build("resources", data, 500, 400)
    pools, memory = figure.axes[0], figure.axes[1]
    (in_use,) = [ln for ln in pools.lines if ln.get_label() == "api → db"]  # web->db filtered out
    assert len([ln for ln in pools.lines if not ln.get_label().startswith("_")]) == 1
    assert in_use.get_ydata()[-1] == 100.0  # 30 of 30 connections
    (used,) = [ln for ln in memory.lines if ln.get_label() == "api"]
    assert used.get_ydata()[-1] == 100.0  # 500 of 500 MB: the OOM line
    FigureCanvasAgg(figure).draw()


def test_the_resources_plot_says_when_there_is_nothing():
    data = PlotData({"time_s": np.arange(1.0, 4.0)}, [], 3.0, 3.0)
    figure = build("resources", data, 500, 400)
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert "no connection pool yet" in texts and "no memory limit set" in texts


def test_the_extra_plots_follow_what_the_scenario_has():
    assert needed_plots(load_scenario(ROOT / "scenarios" / "mm1.yaml")) == ()
    assert needed_plots(load_scenario(ROOT / "scenarios" / "broker-outage.yaml")) == ("messages",)
    pooled = load_scenario(ROOT / "scenarios" / "mm1.yaml")
    service = next(n for n in pooled.nodes.values() if n.kind == "client")
    service.calls[0].pool = Pool()
    assert needed_plots(pooled) == ("resources",)


def test_filtering_on_a_client_shows_its_route_and_the_workers_it_keeps_busy():
    """Issue 12 bug 3: 'Traffic at users' was an empty axis, and so were the busy workers."""
    from gui.run.live_state import plot_filter
    from simulator.engine import Simulation
    from simulator.timeseries import time_series

    scenario = load_scenario(ROOT / "scenarios" / "three-tier.yaml")
    client = next(n for n, v in scenario.nodes.items() if v.kind == "client")
    chosen = plot_filter(scenario, ("node", client))
    assert chosen.nodes is not None and len(chosen.nodes) > 1
    sim = Simulation(scenario.model_copy(update={"duration": 20.0, "warmup": 0.0}))
    sim.run_to_end()
    data = PlotData(time_series(sim), [], 20.0, 20.0, filter=chosen)
    traffic = build("throughput", data, 500, 300).axes[0]
    started = next(ln for ln in traffic.lines if ln.get_label() == "started/s")
    assert np.nansum(started.get_ydata()) > 0
    busy = build("pools", data, 500, 400).axes[0]
    drawn = [ln for ln in busy.lines if not ln.get_label().startswith("_")]
    assert any(np.nansum(ln.get_ydata()) > 0 for ln in drawn)


def test_a_route_with_requests_and_no_answers_says_so_on_the_latency_plot():
    """Issue 12 bug 10: the latency line just stopped, so a dead chain looked healthy."""
    t = np.arange(0.0, 100.0)
    p99 = np.full(100, 200.0)
    p99[40:60] = np.nan  # requests kept coming; none was answered
    cols = {"time_s": t, "route.users.p99_ms": p99, "route.users.p50_ms": p99 / 2,
            "route.users.requests": np.full(100, 10.0)}  # fmt: skip
    ax = build("latency", PlotData(cols, [], 100.0, 99.0), 600, 300).axes[0]
    assert [x.get_text() for x in ax.texts if "no answers" in x.get_text()] == [
        " users: no answers"
    ]
    (band,) = [p for p in ax.patches if p.get_hatch()]
    assert band.get_x() == 40.0 and band.get_width() == 20.0


def test_a_node_shows_its_memory_and_corrupt_records_from_a_real_snapshot():
    from gui.run.live_state import node_states
    from simulator.engine import Simulation
    from simulator.timeseries import time_series

    leaky = load_scenario(ROOT / "scenarios" / "memory-leak.yaml")
    sim = Simulation(leaky.model_copy(update={"duration": 60.0}))
    sim.run(60.0)
    states = node_states(leaky, sim.snapshot(), time_series(sim), leaky.bucket)
    watched = [n for n, v in leaky.nodes.items() if getattr(v, "memory", None) is not None]
    assert watched and set(watched) <= set(states)
    assert all("mem " in states[n]["text"] for n in watched)
    assert all(0 <= states[n]["memory_share"] <= 1.0 for n in watched)
    layered = load_scenario(ROOT / "scenarios" / "defense-in-depth.yaml")
    sim = Simulation(layered.model_copy(update={"duration": 60.0}))
    sim.run(60.0)
    states = node_states(layered, sim.snapshot(), time_series(sim), layered.bucket)
    assert any("corrupt" in s["text"] for s in states.values())


def test_the_resources_plot_gives_memory_all_the_room_when_there_is_no_pool():
    t = np.arange(1.0, 11.0)
    data = PlotData({"time_s": t, "node.api.memory_mb": t * 10}, [], 10.0, 10.0,
                    limits={"node.api.memory_mb": 100.0})  # fmt: skip
    (ax,) = build("resources", data, 500, 400).axes
    assert ax.get_title(loc="left").startswith("Memory")


def test_with_pools_and_no_memory_the_callers_waiting_get_the_lower_plot():
    t = np.arange(1.0, 11.0)
    data = PlotData({"time_s": t, "pool.api->db.in_use": t * 3, "pool.api->db.waiters": t * 7},
                    [], 10.0, 10.0, limits={"pool.api->db.in_use": 30.0})  # fmt: skip
    top, bottom = build("resources", data, 500, 400).axes
    assert top.get_title(loc="left").startswith("Connections in use")
    (waiting,) = [ln for ln in bottom.lines if not ln.get_label().startswith("_")] or [
        ln for ln in bottom.lines if ln.get_ydata()[-1] == 70.0
    ]
    assert waiting.get_ydata()[-1] == 70.0
    assert "callers waiting for a connection" in [x.get_text() for x in bottom.texts]


def test_failures_of_several_routes_are_stacked_and_each_named():
    """Issue 12 bug 10: the failed fills of several routes overlapped into an unlabelled
    brown. Each route's band now sits on the one below and has a legend entry, live and
    in the exported figure."""
    from gui.plots.spec import plot_spec

    t = np.arange(0.0, 10.0)
    cols = {"time_s": t}
    for route, failed in (("a", 3.0), ("b", 5.0)):
        cols |= {f"route.{route}.goodput": np.full(10, 10.0),
                 f"route.{route}.failed": np.full(10, failed)}  # fmt: skip
    (panel,) = plot_spec("throughput", PlotData(cols, [], 10.0, 10.0)).panels
    a, b = panel.fills
    assert (a.low == 0).all() and (a.high == 3).all()
    assert (b.low == 3).all() and (b.high == 8).all() and a.colour != b.colour
    assert [e.label for e in panel.legend if e.style == "fill"] == ["a failed", "b failed"]
    ax = build("throughput", PlotData(cols, [], 10.0, 10.0), 600, 300).axes[0]
    assert {"a failed", "b failed"} <= {t.get_text() for t in ax.get_legend().get_texts()}


def test_colours_stay_readable_on_a_dark_background():
    from gui.plots.spec import readable
    from simulator.palette import PALETTE

    def lightness(colour):
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255

    assert readable("#1d3557", dark=False) == "#1d3557"
    for colour in PALETTE:
        assert lightness(readable(colour, dark=True)) >= 0.44
    assert readable("#f4a261", dark=True) == "#f4a261"  # light enough already
