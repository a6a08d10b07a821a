"""The README's YAML examples are valid: a reader who copies one gets a working file.

A full scenario is loaded as it is; a fragment is completed with the least it needs
(a name, a duration, a client to drive it) and validated like a file; a policy
example is validated on a call.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from engine_helpers import ROOT

from simulator.scenario import validate_data
from simulator.scenario_nodes import Call

BLOCKS = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
POLICIES = {"retry", "adaptive_throttling", "breaker", "bulkhead", "pool", "fallback"}


def _as_scenario(data: dict[str, Any]) -> dict[str, Any]:
    nodes = data.get("nodes", {})
    if "murphy" in data:
        return data
    filled = {"murphy": 1, "name": "readme", "duration": "30s", **data, "nodes": dict(nodes)}
    if not any(node.get("kind") == "client" for node in nodes.values()):
        first = next(iter(nodes))
        filled["nodes"]["readme_users"] = {"kind": "client", "rate": "10/s",
                                           "calls": [{"to": first}]}  # fmt: skip
    return filled


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_yaml_example_in_the_readme_is_valid(block: str) -> None:
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    if set(data) <= POLICIES:
        Call.model_validate({"to": "x", **data})
    elif "nodes" in data or "murphy" in data:
        validate_data(_as_scenario(data))
    elif "calls" in data:
        Call.model_validate(data["calls"][0])
    else:  # a node on its own (`api: {kind: service, ...}`)
        validate_data(_as_scenario({"nodes": data}))


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 10
