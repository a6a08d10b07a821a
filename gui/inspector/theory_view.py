"""The inspector's "Queueing theory" section: Erlang C's prediction for a service beside what
the last run measured, and the assumptions that do not hold. The figures come from
``simulator.theory``; this only lays them out."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from simulator.scenario import Scenario
from simulator.theory import Measured, Prediction, measured, predict

ROWS = (
    ("utilization", "utilisation ρ", "share of the workers' time spent serving"),
    ("wait_probability", "P(wait)", "share of admitted requests that wait for a worker"),
    ("mean_wait", "mean wait Wq", "time in the queue before a worker takes the request"),
    ("mean_queue", "mean queue Lq", "requests waiting, on average over time"),
    ("blocking", "turned away", "share of arrivals refused by a full queue"),
)


def _figure(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    if key == "mean_wait":
        if value >= 1:
            return f"{value:.3g} s"
        return f"{value * 1000:.3g} ms" if value >= 1e-6 else "0 ms"
    if key == "mean_queue":
        return f"{value:.3g}" if value >= 1e-6 else "0"
    return f"{100 * value:.3g}%" if value >= 1e-8 else "0%"


def theory_section(
    scenario: Scenario, node: str, run: tuple[Scenario, dict[str, Any]] | None
) -> QWidget | None:
    """The section for ``node`` (None for a node that is not a queue of workers); ``run``
    is the scenario the last finished run ran and its summary, if there was one."""
    prediction = predict(scenario, node)
    if prediction is None:
        return None
    seen: Measured | None = None
    note = ""
    if run is not None and node in run[0].nodes:
        seen = measured(run[1], node, run[0])
        if seen is not None and run[0].nodes[node] != scenario.nodes[node]:
            note = "Measured: the last run, before this node was edited."
    box = QGroupBox("Queueing theory")
    box.setObjectName("theory")
    column = QVBoxLayout(box)
    column.addWidget(_verdict(prediction))
    column.addWidget(_table(prediction, seen))
    if note:
        column.addWidget(_small(note))
    if prediction.caveats:
        items = "".join(f"<li>{escape(c)}</li>" for c in prediction.caveats)
        caveats = QLabel(f"Assumptions that do not hold:<ul style='margin-left:-18px'>{items}</ul>")
        caveats.setObjectName("theory:caveats")
        caveats.setTextFormat(Qt.TextFormat.RichText)
        caveats.setWordWrap(True)
        column.addWidget(caveats)
    return box


def _verdict(p: Prediction) -> QLabel:
    """One line: the model, λ, c, 1/μ, and how far to trust the figures."""
    if not p.stable:
        trust = "unstable: the queue grows without bound"
    elif p.wait_probability is None:
        trust = "nothing to predict"
    elif p.exact:
        trust = "its assumptions hold"
    else:
        broken = len(p.caveats)
        trust = f"approximate: {broken} assumption{'s' if broken > 1 else ''} do not hold"
    text = (
        f"<b>{escape(p.model)}</b>: λ = {p.arrival_rate:.4g}/s, c = {p.servers},"
        f" 1/μ = {p.mean_service * 1000:.3g} ms — <i>{escape(trust)}</i>"
    )
    label = QLabel(text)
    label.setObjectName("theory:verdict")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    return label


def _table(p: Prediction, seen: Measured | None) -> QWidget:
    table = QWidget()
    grid = QGridLayout(table)
    grid.setContentsMargins(0, 4, 0, 4)
    grid.setHorizontalSpacing(14)
    grid.addWidget(_small("predicted"), 0, 1, Qt.AlignmentFlag.AlignRight)
    grid.addWidget(_small("measured" if seen else "measured (run it)"), 0, 2,
                   Qt.AlignmentFlag.AlignRight)  # fmt: skip
    row = 1
    for key, name, meaning in ROWS:
        predicted = getattr(p, key)
        observed = getattr(seen, key, None) if seen is not None else None
        if key == "blocking" and predicted is None:
            continue
        label = QLabel(name)
        label.setToolTip(meaning)
        grid.addWidget(label, row, 0)
        for col, value, kind in ((1, predicted, "predicted"), (2, observed, "measured")):
            cell = QLabel(_figure(key, value) if kind == "predicted" or seen else "")
            cell.setObjectName(f"theory:{kind}:{key}")
            cell.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            cell.setToolTip(meaning)
            grid.addWidget(cell, row, col)
        row += 1
    return table


def _small(text: str) -> QLabel:
    label = QLabel(text)
    label.setEnabled(False)  # the palette's muted text colour, in light and dark themes
    label.setWordWrap(True)
    return label
