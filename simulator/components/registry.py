"""Every node kind the engine can build, by the name a scenario file gives it.

A new kind adds its module's ``KIND`` here; ``tests/test_kinds.py`` fails until
the schema, this registry and the app's entries all name the same kinds.
"""

from __future__ import annotations

from simulator.components import (
    balancer,
    broker,
    cache,
    client,
    consumer,
    datastore,
    relay,
    service,
)
from simulator.components.kind import NodeKind

__all__ = ["NODE_KINDS"]

NODE_KINDS: dict[str, NodeKind] = {
    kind.name: kind
    for kind in (
        client.KIND,
        *service.KINDS,
        datastore.KIND,
        balancer.KIND,
        cache.KIND,
        broker.KIND,
        relay.KIND,
        consumer.KIND,
    )
}
