"""The series colours every figure uses: headless plots, the compare figure and the app's
live plots, so a route has the same colour wherever it is drawn. No matplotlib here: the
app's plots import it without paying for matplotlib."""

from __future__ import annotations

__all__ = ["PALETTE", "series_colour"]

PALETTE = ["#1d3557", "#e63946", "#2a9d8f", "#f4a261", "#6d597a", "#457b9d", "#8d99ae"]


def series_colour(i: int) -> str:
    """The colour of the ``i``-th series (the palette repeats)."""
    return PALETTE[i % len(PALETTE)]
