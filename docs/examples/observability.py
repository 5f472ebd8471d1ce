"""Export a client's requests and connection events to Prometheus.

Needs the ``prometheus`` extra (``pip install trio-zookeeper[prometheus]``).
"""

from __future__ import annotations

import trio
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from trio_zookeeper import RequestTrace, Tracer, open_zookeeper


class PrometheusTracer(Tracer):
    """Latency per operation, outcomes, and connection events as Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            "zookeeper_request_seconds",
            "ZooKeeper request latency",
            ["op", "outcome"],
            registry=registry,
        )
        self.connections = Counter(
            "zookeeper_connection_events",
            "ZooKeeper connection events",
            ["event", "server"],
            registry=registry,
        )
        self.expiries = Counter(
            "zookeeper_session_expiries", "ZooKeeper sessions expired", registry=registry
        )

    def request_ended(self, request: RequestTrace) -> None:
        assert request.duration is not None
        self.latency.labels(request.op, request.outcome).observe(request.duration)

    def connected(self, server: str, session_id: int, read_only: bool) -> None:
        self.connections.labels("connected", server).inc()

    def connection_lost(self, server: str, cause: str) -> None:
        self.connections.labels("lost", server).inc()

    def session_expired(self, session_id: int, reason: str) -> None:
        self.expiries.inc()


async def main(hosts: str) -> None:
    registry = CollectorRegistry()  # or prometheus_client.REGISTRY, served by start_http_server
    async with open_zookeeper(hosts, tracer=PrometheusTracer(registry)) as zk:
        await zk.ensure_path("/metrics-demo")
        await zk.get_data("/metrics-demo")
        await zk.exists("/metrics-demo/missing")
        stats = zk.statistics()
        print(f"{stats.requests} requests, {stats.bytes_sent} bytes sent")
    exposition = generate_latest(registry).decode()
    print(exposition)
    assert 'zookeeper_request_seconds_count{op="get_data",outcome="ok"} 1.0' in exposition
    assert 'zookeeper_connection_events_total{event="connected"' in exposition


if __name__ == "__main__":
    trio.run(main, "127.0.0.1:2181")
