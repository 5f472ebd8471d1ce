"""Operation histories and their checkers (docs/reliability.rst, "Checking histories").

Each operation is recorded as ``{client, session, op, key, args, t_invoke,
t_complete, outcome, value, stat}`` with ``outcome`` one of ``ok``, ``fail``
(certainly not applied) and ``info`` (unknown: connection loss, timeout or
cancellation after sending). Each key is a register; every written value is
unique (``client:seq``), so a value names the write that produced it.

Checker W (writes) relies on ZooKeeper returning its total order with each
successful write (mzxid, version), so no search is needed:

* per key, successful writes sorted by mzxid have strictly increasing
  versions, and no two writes claim one version;
* a successful CAS wrote exactly ``expected + 1``;
* every value is at one version only (a value seen twice means a duplicated
  write);
* every version not claimed by a successful write (a gap) is matched to a
  distinct ``info`` write that was invoked before the version was observed,
  and could have produced it (a blind write, or a CAS expecting the version
  before); a value read at a gap version must come from such a write (no
  phantom values);
* real time: a write that completed before another was invoked has a
  smaller zxid.

Checker R (reads), per session and key, in the session's order: the observed
``(mzxid, version)`` never goes back, across failover too; this includes
read-your-writes (a read after one's own successful write sees at least it).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

Outcome = Literal["ok", "fail", "info"]
Kind = Literal["read", "cas", "write", "create", "delete"]
WRITES: frozenset[str] = frozenset({"cas", "write"})
INITIAL_VERSION = 0


@attrs.define
class Op:
    """One operation of the history."""

    client: int
    session: int
    kind: Kind
    key: str
    t_invoke: float
    value: bytes | None = None  # the value written (writes) or read (reads)
    expected: int | None = None  # a CAS's expected version
    t_complete: float | None = None
    outcome: Outcome | None = None
    mzxid: int | None = None
    version: int | None = None
    error: str | None = None


class History:
    """Operations in invocation order."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def invoke(self, op: Op) -> Op:
        self.ops.append(op)
        return op

    def counts(self) -> dict[str, int]:
        return dict(collections.Counter(f"{op.kind}:{op.outcome}" for op in self.ops))


def check_writes(ops: Sequence[Op], initial: dict[str, bytes]) -> list[str]:
    """Checker W; returns the violations found (empty: the history is fine)."""
    problems: list[str] = []
    by_key: dict[str, list[Op]] = collections.defaultdict(list)
    for op in ops:
        if op.kind in WRITES or op.kind == "read":
            by_key[op.key].append(op)
    for key, key_ops in sorted(by_key.items()):
        problems += _check_key(key, key_ops, initial.get(key))
    problems += _check_real_time(ops)
    return problems


def _check_key(key: str, ops: list[Op], initial: bytes | None) -> list[str]:
    problems: list[str] = []
    ok_writes = sorted(
        (op for op in ops if op.kind in WRITES and op.outcome == "ok"),
        key=lambda op: op.mzxid or 0,
    )
    info_writes = [op for op in ops if op.kind in WRITES and op.outcome == "info"]
    reads = [op for op in ops if op.kind == "read" and op.outcome == "ok"]

    # Versions from successful writes, in zxid order.
    by_version: dict[int, Op] = {}
    last: Op | None = None
    for op in ok_writes:
        assert op.version is not None
        assert op.mzxid is not None
        if last is not None and op.version <= (last.version or 0):
            problems.append(
                f"{key}: write {op.value!r} at zxid {op.mzxid:#x} has version {op.version}, "
                f"not above {last.version} of the earlier write {last.value!r}"
            )
        if op.version in by_version:
            problems.append(
                f"{key}: writes {by_version[op.version].value!r} and {op.value!r} "
                f"both claim version {op.version}"
            )
        by_version[op.version] = op
        if op.kind == "cas" and op.version != (op.expected or 0) + 1:
            problems.append(
                f"{key}: CAS {op.value!r} expected version {op.expected} but wrote {op.version}"
            )
        last = op

    # What is known of each version: its value, and when it was first seen.
    value_at: dict[int, bytes] = {}
    seen_at: dict[int, float] = {}
    if initial is not None:
        value_at[INITIAL_VERSION] = initial
        seen_at[INITIAL_VERSION] = float("-inf")
    for version, op in by_version.items():
        assert op.value is not None
        assert op.t_complete is not None
        value_at[version] = op.value
        seen_at[version] = op.t_complete
    for op in reads:
        assert op.version is not None
        assert op.value is not None
        assert op.t_complete is not None
        known = value_at.get(op.version)
        if known is None:
            value_at[op.version] = op.value
        elif known != op.value:
            problems.append(
                f"{key}: read {op.value!r} at version {op.version}, where {known!r} was written"
            )
        seen_at[op.version] = min(seen_at.get(op.version, op.t_complete), op.t_complete)

    # A value at two versions is a duplicated write.
    versions_of: dict[bytes, list[int]] = collections.defaultdict(list)
    for version, value in value_at.items():
        versions_of[value].append(version)
    for value, versions in versions_of.items():
        if len(versions) > 1:
            problems.append(f"{key}: value {value!r} appears at versions {sorted(versions)}")

    # Gaps: versions no successful write claims must each be an info write.
    if not seen_at:
        return problems
    top = max(seen_at)
    first = INITIAL_VERSION + 1 if initial is not None else min(seen_at)
    gaps = [v for v in range(first, top + 1) if v not in by_version]

    def deadline(version: int) -> float:
        # applied before any observation of this or a later version completed
        return min(t for v, t in seen_at.items() if v >= version)

    info_by_value = {op.value: op for op in info_writes}
    candidates: dict[int, list[int]] = {}
    for gap in gaps:
        limit = deadline(gap)
        if gap in value_at:  # its value was read: the writer is known
            writer = info_by_value.get(value_at[gap])
            if writer is None:
                problems.append(
                    f"{key}: version {gap} holds {value_at[gap]!r}, written by no "
                    "unknown-outcome write (a phantom or a lost acknowledgement)"
                )
                continue
            usable = [info_writes.index(writer)] if _could_write(writer, gap, limit) else []
            if not usable:
                problems.append(
                    f"{key}: {writer.value!r} seen at version {gap}, which that write could "
                    "not have produced"
                )
                continue
        else:
            usable = [i for i, op in enumerate(info_writes) if _could_write(op, gap, limit)]
        candidates[gap] = usable
    matched = _match(candidates)
    for gap in sorted(candidates):
        if gap not in matched:
            problems.append(
                f"{key}: version {gap} was skipped and no unknown-outcome write explains it"
            )
    return problems


def _could_write(op: Op, version: int, limit: float) -> bool:
    if op.t_invoke >= limit:
        return False
    return op.kind == "write" or op.expected == version - 1


def _match(candidates: dict[int, list[int]]) -> dict[int, int]:
    """A maximum matching of gaps to distinct writes (Kuhn's augmenting paths)."""
    owner: dict[int, int] = {}  # write index -> gap

    def augment(gap: int, visited: set[int]) -> bool:
        for write in candidates[gap]:
            if write in visited:
                continue
            visited.add(write)
            if write not in owner or augment(owner[write], visited):
                owner[write] = gap
                return True
        return False

    for gap in sorted(candidates):
        augment(gap, set())
    return {gap: write for write, gap in owner.items()}


def _check_real_time(ops: Iterable[Op]) -> list[str]:
    """A write that completed before another was invoked has the smaller zxid."""
    writes = [op for op in ops if op.kind in WRITES and op.outcome == "ok"]
    events: list[tuple[float, int, Op]] = []
    for op in writes:
        assert op.t_complete is not None
        events.append((op.t_invoke, 1, op))
        events.append((op.t_complete, 0, op))  # completions first at equal times
    events.sort(key=lambda e: (e[0], e[1]))
    problems: list[str] = []
    highest: Op | None = None
    for _, kind, op in events:
        assert op.mzxid is not None
        if kind == 0:
            if highest is None or op.mzxid > (highest.mzxid or 0):
                highest = op
        elif highest is not None and op.mzxid <= (highest.mzxid or 0):
            problems.append(
                f"write {op.value!r} (zxid {op.mzxid:#x}) was invoked after "
                f"{highest.value!r} (zxid {highest.mzxid:#x}) completed, yet ordered before it"
            )
    return problems


def check_reads(ops: Sequence[Op]) -> list[str]:
    """Checker R: per session and key, (mzxid, version) never goes back."""
    problems: list[str] = []
    latest: dict[tuple[int, str], Op] = {}
    for op in sorted(
        (o for o in ops if o.outcome == "ok" and o.mzxid is not None and o.kind != "create"),
        key=lambda o: o.t_complete or 0.0,
    ):
        if op.kind not in WRITES and op.kind != "read":
            continue
        slot = (op.session, op.key)
        before = latest.get(slot)
        if before is not None:
            assert op.mzxid is not None
            assert op.version is not None
            if (op.mzxid, op.version) < (before.mzxid or 0, before.version or 0):
                what = "read" if op.kind == "read" else "write"
                problems.append(
                    f"session {op.session:#x} on {op.key}: {what} saw (zxid {op.mzxid:#x}, "
                    f"version {op.version}) after (zxid {before.mzxid:#x}, version "
                    f"{before.version}) from its {before.kind}: went back in time"
                )
                continue
        latest[slot] = op
    return problems
