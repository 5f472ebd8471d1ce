"""The host list logic (no I/O): Java's StaticHostProvider rules, the backoff policy,
and the dynamic config parser.

Random choices use seeded ``random.Random`` instances (the seeds are in the
tests and in hypothesis's derandomized examples), so every run is the same.
"""

from __future__ import annotations

import ast
import collections
import math
import os
import pathlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_zookeeper._hostprovider as hostprovider
from trio_zookeeper._hostprovider import (
    Backoff,
    HostProvider,
    parse_dynamic_config,
)
from trio_zookeeper._hosts import HostPort


def hp(name: str, port: int = 2181) -> HostPort:
    return HostPort(name, port)


def servers(names: str) -> list[HostPort]:
    return [hp(n) for n in names]


def test_module_does_no_io() -> None:
    tree = ast.parse(pathlib.Path(hostprovider.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert not imported & {"trio", "socket", "ssl", "asyncio", "anyio"}, imported


# ================================================================ order


def test_empty_list_is_refused() -> None:
    with pytest.raises(ValueError, match="no ZooKeeper hosts"):
        HostProvider([], random.Random(1))
    provider = HostProvider(servers("ab"), random.Random(1))
    with pytest.raises(ValueError, match="no ZooKeeper hosts"):
        provider.update([], None)


def test_list_is_shuffled_per_client_and_deduplicated() -> None:
    hosts = servers("abcdef")
    orders = {HostProvider(hosts, random.Random(seed)).hosts for seed in range(20)}
    assert len(orders) > 1
    assert all(sorted(o, key=str) == sorted(hosts, key=str) for o in orders)
    assert HostProvider([hp("a"), hp("a"), hp("b")], random.Random(3)).hosts in {
        (hp("a"), hp("b")),
        (hp("b"), hp("a")),
    }


def test_rounds_start_after_the_last_connected_server() -> None:
    provider = HostProvider(servers("abcd"), random.Random(5))
    listed = list(provider.hosts)
    assert provider.next_round() == listed
    provider.connected(listed[1])
    assert provider.next_round() == listed[2:] + listed[:2]  # the lost server comes last
    assert provider.next_round(first=listed[0]) == [listed[0], *listed[2:], listed[1]]


# ============================================================ rebalancing


def test_current_server_dropped_moves_at_once() -> None:
    provider = HostProvider(servers("abc"), random.Random(7))
    provider.connected(hp("c"))
    update = provider.update(servers("abd"), hp("c"))
    assert update.move
    assert update.server == "c:2181"
    assert "no longer listed" in update.reason
    # Same size, one new server: all of c's clients go to d (p_new = 1).
    assert provider.next_round()[0] == hp("d")
    assert set(update.hosts) == {"a:2181", "b:2181", "d:2181"}
    assert set(update.previous) == {"a:2181", "b:2181", "c:2181"}


def test_staying_server_and_no_growth_means_no_move() -> None:
    provider = HostProvider(servers("abcd"), random.Random(7))
    provider.connected(hp("a"))
    update = provider.update(servers("abc"), hp("a"))
    assert not update.move
    assert "staying" in update.reason
    order = provider.next_round()
    assert order[-1] == hp("a")
    assert sorted(map(str, order)) == ["a:2181", "b:2181", "c:2181"]


def test_not_connected_uses_the_last_server() -> None:
    provider = HostProvider(servers("ab"), random.Random(2))
    provider.connected(hp("a"))
    update = provider.update(servers("bc"), None)
    assert update.move
    assert update.server is None
    assert "a:2181 is no longer listed" in update.reason


def test_a_reconfig_round_tries_every_server_once_then_rounds_are_normal() -> None:
    provider = HostProvider(servers("abc"), random.Random(11))
    provider.connected(hp("a"))
    provider.update(servers("bcdef"), hp("a"))
    first = provider.next_round()
    assert sorted(map(str, first)) == [f"{n}:2181" for n in "bcdef"]
    assert first[0] in servers("def")  # growth: a moving client goes to a new server
    assert provider.next_round() == list(provider.hosts)  # back to plain rounds


def _destination(
    old: list[HostPort], new: list[HostPort], current: HostPort, seed: int
) -> HostPort:
    provider = HostProvider(old, random.Random(seed))
    provider.connected(current)
    update = provider.update(new, current)
    return provider.next_round()[0] if update.move else current


@settings(max_examples=20, deadline=None, derandomize=True)
@given(old_size=st.integers(1, 6), added=st.integers(1, 6), seed=st.integers(0, 2**32))
def test_growth_moves_with_javas_probability(old_size: int, added: int, seed: int) -> None:
    old = [hp(f"s{i}") for i in range(old_size)]
    new = old + [hp(f"n{i}") for i in range(added)]
    trials = 2000
    print(f"seed={seed}")
    master = random.Random(seed)
    moved = sum(
        _destination(old, new, master.choice(old), master.randrange(2**32)) not in old
        for _ in range(trials)
    )
    p = 1 - old_size / (old_size + added)  # StaticHostProvider.updateServerList
    sd = math.sqrt(trials * p * (1 - p))
    assert abs(moved - trials * p) <= 5 * sd + 1, (moved, trials * p)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    old_size=st.integers(2, 6),
    removed=st.integers(0, 5),
    added=st.integers(0, 4),
    seed=st.integers(0, 2**32),
)
def test_any_change_leaves_the_load_even(
    old_size: int, removed: int, added: int, seed: int
) -> None:
    removed = min(removed, old_size - 1)
    old = [hp(f"s{i}") for i in range(old_size)]
    new = old[removed:] + [hp(f"n{i}") for i in range(added)]
    clients = 3000
    print(f"seed={seed}")
    master = random.Random(seed)
    # Clients start evenly spread over the old servers.
    counts = collections.Counter(
        _destination(old, new, old[i % old_size], master.randrange(2**32)) for i in range(clients)
    )
    assert set(counts) <= set(new)
    share = clients / len(new)
    for server in new:
        # Binomial spread around the even share, 5 standard deviations.
        tolerance = 5 * math.sqrt(clients * (1 / len(new)) * (1 - 1 / len(new))) + 1
        assert abs(counts[server] - share) <= tolerance, (server, counts, share)


# ================================================================ backoff


def test_backoff_round_pauses_grow_to_the_cap() -> None:
    policy = Backoff(initial=1.0, factor=2.0, maximum=10.0, jitter=0.0)
    rng = random.Random(0)
    assert [policy.round_pause(n, rng) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert policy.round_pause(10_000, rng) == 10  # no overflow
    assert policy.round_pause(3, rng, limit=3.0) == 3.0


def test_backoff_jitter_takes_off_at_most_its_fraction() -> None:
    policy = Backoff(initial=2.0, factor=2.0, maximum=100.0, jitter=0.5)
    rng = random.Random(42)
    for n in range(1, 6):
        pauses = [policy.round_pause(n, rng) for _ in range(200)]
        full = 2.0 * 2 ** (n - 1)
        assert all(full / 2 <= p <= full for p in pauses)
        assert max(pauses) - min(pauses) > full / 4  # really random
    attempt = [policy.attempt_pause(rng, limit=0.5) for _ in range(200)]
    assert all(0 <= p <= 0.5 for p in attempt)
    assert max(attempt) > 0.4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial": -1}, "initial"),
        ({"maximum": math.inf}, "maximum"),
        ({"factor": 0.5}, "factor"),
        ({"jitter": 1.5}, "jitter"),
        ({"initial": 5, "maximum": 1}, "maximum"),
        ({"attempt_jitter": -0.1}, "attempt_jitter"),
    ],
)
def test_backoff_rejects_bad_values(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


# ========================================================== dynamic config


def test_parse_dynamic_config() -> None:
    config = parse_dynamic_config(
        b"server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n"
        b"server.2=zk2:2889:3889:participant;0.0.0.0:2182\n"
        b"server.3=[::1]:2890:3890:observer;2183\n"
        b"server.4=zk4:2891:3891\n"
        b"version=10000000a"
    )
    assert config.version == "10000000a"
    assert config.hosts == [hp("127.0.0.1", 2181), hp("zk2", 2182), hp("::1", 2183)]
    assert config.connect_string() == "127.0.0.1:2181,zk2:2182,[::1]:2183"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server.x=a:1:2;a:3", "server id"),
        ("server.1=a:1:2;a:99999", "client port"),
        ("server.1=a:1:2;a:b", "client port"),
        ("nonsense", "no '='"),
    ],
)
def test_parse_dynamic_config_rejects_bad_lines(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_dynamic_config(text)


# ------------------------------------------------ the shared random sources
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("name", ["SHARED_RNG", "SHARED_NO_SHUFFLE"])
def test_shared_rng_is_reseeded_in_a_forked_child(name: str) -> None:
    """Pre-forked workers must not replay the parent's draws (same first server)."""
    rng: random.Random = getattr(hostprovider, name)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write_end, repr(rng.random()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        child = float(os.read(read_end, 100).decode())
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    assert child != rng.random()


def test_clients_share_one_random_source_and_one_default_backoff() -> None:
    """No per-client seeding (2.5 KB of os.urandom each) and no per-client Backoff."""
    from trio_zookeeper._hosts import parse_connect_string
    from trio_zookeeper._session import Session

    def session() -> Session:
        return Session(
            parse_connect_string("a:1,b:2"),
            session_timeout=10.0,
            auth=[],
            read_only=False,
            ssl_context=None,
        )

    one, two = session(), session()
    assert one._rng is two._rng is hostprovider.SHARED_RNG
    assert one.reconnect_backoff is two.reconnect_backoff is hostprovider.DEFAULT_BACKOFF
    assert Backoff() == hostprovider.DEFAULT_BACKOFF
