"""The history checkers catch what they must, and pass what is fine (no server)."""

from __future__ import annotations

from .history import Op, check_reads, check_writes

INITIAL = {"k": b"init"}


def write(
    value: str,
    t0: float,
    t1: float,
    *,
    zxid: int | None = None,
    version: int | None = None,
    outcome: str = "ok",
    cas: int | None = None,
    session: int = 1,
) -> Op:
    return Op(
        client=session,
        session=session,
        kind="cas" if cas is not None else "write",
        key="k",
        t_invoke=t0,
        t_complete=t1,
        value=value.encode(),
        expected=cas,
        outcome=outcome,  # type: ignore[arg-type]
        mzxid=zxid,
        version=version,
    )


def read(value: str, t0: float, t1: float, zxid: int, version: int, session: int = 1) -> Op:
    return Op(
        client=session,
        session=session,
        kind="read",
        key="k",
        t_invoke=t0,
        t_complete=t1,
        value=value.encode(),
        outcome="ok",
        mzxid=zxid,
        version=version,
    )


def test_a_clean_history_passes() -> None:
    ops = [
        read("init", 0, 1, 1, 0),
        write("a", 1, 2, zxid=10, version=1, cas=0),
        write("b", 3, 4, zxid=11, version=2),
        write("c", 4.5, 5, outcome="fail", cas=0),  # BadVersion
        read("b", 5, 6, 11, 2, session=2),
    ]
    assert check_writes(ops, INITIAL) == []
    assert check_reads(ops) == []


def test_an_applied_unknown_write_fills_a_gap_once() -> None:
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        write("lost", 2, 3, outcome="info"),
        write("b", 4, 5, zxid=12, version=3),
    ]
    assert check_writes(ops, INITIAL) == []
    # ... but one unknown write cannot explain two skipped versions
    ops.append(write("c", 6, 7, zxid=14, version=5))
    assert any("version 4 was skipped" in p for p in check_writes(ops, INITIAL))


def test_an_unexplained_gap_is_a_violation() -> None:
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        write("b", 4, 5, zxid=12, version=3),
    ]
    assert any("version 2 was skipped" in p for p in check_writes(ops, INITIAL))


def test_an_unknown_write_invoked_too_late_cannot_explain_a_gap() -> None:
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        write("b", 3, 4, zxid=12, version=3),
        write("late", 5, 6, outcome="info"),
    ]
    assert any("version 2 was skipped" in p for p in check_writes(ops, INITIAL))


def test_a_duplicated_write_is_caught() -> None:
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        write("x", 2, 3, outcome="info"),
        read("x", 3, 4, 11, 2),
        write("b", 4, 5, zxid=12, version=3),
        read("x", 5, 6, 13, 4),  # the same value applied a second time
    ]
    assert any("appears at versions [2, 4]" in p for p in check_writes(ops, INITIAL))


def test_a_phantom_value_is_caught() -> None:
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        read("ghost", 3, 4, 11, 2),
    ]
    assert any("phantom" in p for p in check_writes(ops, INITIAL))
    # a write reported as certainly failed that shows up anyway is a phantom too
    ops.append(write("ghost", 0.5, 1.5, outcome="fail"))
    assert any("phantom" in p for p in check_writes(ops, INITIAL))


def test_cas_semantics() -> None:
    ops = [write("a", 1, 2, zxid=10, version=2, cas=0)]
    problems = check_writes(ops, INITIAL)
    assert any("expected version 0 but wrote 2" in p for p in problems)
    # an unknown CAS can only fill the version right after the one it expected
    ops = [
        write("x", 0, 1, outcome="info", cas=5),
        write("a", 1, 2, zxid=10, version=2),
    ]
    assert any("version 1 was skipped" in p for p in check_writes(ops, INITIAL))


def test_two_writes_claiming_one_version() -> None:
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        write("b", 1, 2, zxid=11, version=1),
    ]
    assert any("both claim version 1" in p for p in check_writes(ops, INITIAL))


def test_real_time_order_of_writes() -> None:
    ops = [
        write("a", 1, 2, zxid=20, version=1),
        write("b", 3, 4, zxid=10, version=2, session=2),  # later, but a smaller zxid
    ]
    problems = check_writes(ops, INITIAL)
    assert any("ordered before it" in p for p in problems)


def test_reads_never_go_back_within_a_session() -> None:
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        write("b", 2, 3, zxid=11, version=2, session=2),
        read("b", 3, 4, 11, 2),
        read("a", 4, 5, 10, 1),  # went back
    ]
    problems = check_reads(ops)
    assert len(problems) == 1
    assert "went back in time" in problems[0]
    # another session may lag behind (sequential, not linearizable, reads)
    ops = [
        write("a", 1, 2, zxid=10, version=1),
        write("b", 2, 3, zxid=11, version=2, session=2),
        read("a", 4, 5, 10, 1, session=3),
    ]
    assert check_reads(ops) == []


def test_read_your_writes() -> None:
    ops = [
        write("b", 2, 3, zxid=11, version=2),
        read("a", 4, 5, 10, 1),  # older than its own write
    ]
    assert check_reads(ops) != []
