"""Reading other tools' resilience settings onto a scenario (``murphy import``).

Each source has its own module that turns a configuration file into an
:class:`ImportResult`: the Murphy fields to set on one call (and on a balancer),
and a finding for every key of the file it read: set, a default of that tool
used, understood but not modelled (and why), or unknown. ``apply`` writes a
result onto a scenario and into the scenario's own text, keeping its comments.
Nothing here imports Qt: the app's dialog and the command line share it.
"""

from __future__ import annotations

from simulator.importers.apply import (
    Imported,
    ImportTarget,
    apply_result,
    import_into_text,
    import_settings,
)
from simulator.importers.envoy import envoy_clusters, read_envoy
from simulator.importers.findings import CannotImport, Finding, ImportResult
from simulator.importers.resilience4j import read_resilience4j, resilience4j_instances

__all__ = [
    "CannotImport",
    "Finding",
    "ImportResult",
    "ImportTarget",
    "Imported",
    "apply_result",
    "envoy_clusters",
    "import_into_text",
    "import_settings",
    "read_envoy",
    "read_resilience4j",
    "resilience4j_instances",
]
