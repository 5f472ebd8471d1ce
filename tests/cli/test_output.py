"""The command line's output writer (``trio_zookeeper._cli_output._Writer``), without a server.

Everything is written in order by a thread of its own; ``drained()`` waits,
asynchronously, while more than the high-water mark is queued; errors of
the thread reach the writer's next call; ``close()`` writes everything and
ends the thread.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio.testing

from trio_zookeeper._cli_context import _logging
from trio_zookeeper._cli_output import _STDERR, _STDOUT, _Output, _WriteError, _Writer

WAIT = 10.0


class Recorder(io.StringIO):
    """A stream without a file descriptor that records its writes (in a shared log)."""

    def __init__(self, name: str, log: list[tuple[str, str | bytes]]) -> None:
        super().__init__()
        self.label = name
        self.log = log

    def write(self, text: str) -> int:
        self.log.append((self.label, text))
        return len(text)

    @property
    def buffer(self) -> Any:
        """The binary side: its writes go to the same log."""
        return RecorderBytes(self)


class RecorderBytes:
    def __init__(self, text: Recorder) -> None:
        self.text = text

    def write(self, data: bytes) -> int:
        self.text.log.append((self.text.label, data))
        return len(data)

    def flush(self) -> None:
        pass


class Failing(io.StringIO):
    """A stream whose writes fail with ``error``."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


@pytest.fixture
def pipe() -> Iterator[tuple[io.TextIOWrapper, int]]:
    """A text stream on a pipe's write end (a real descriptor), and the read end."""
    read, write = os.pipe()
    stream = open(write, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield stream, read
    finally:
        stream.close()
        with contextlib.suppress(OSError):  # the test may have closed it
            os.close(read)


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def output_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "trio-zookeeper-output"]


def test_order_is_kept_across_streams_text_and_bytes() -> None:
    log: list[tuple[str, str | bytes]] = []
    writer = _Writer(Recorder("out", log), Recorder("err", log))
    expected: list[tuple[str, str | bytes]] = []
    for i in range(2000):
        stream, name = (_STDERR, "err") if i % 7 == 0 else (_STDOUT, "out")
        data: str | bytes = f"{i}\n" if i % 5 else f"{i}\n".encode()
        writer.write(stream, data)
        expected.append((name, data))
    writer.close()
    assert [entry for entry in log if entry[1]] == expected
    assert not output_threads()
    with pytest.raises(RuntimeError):
        writer.write(_STDOUT, "after close")


async def test_drained_waits_above_the_high_water_mark_until_the_thread_drains(
    pipe: tuple[io.TextIOWrapper, int],
) -> None:
    stream, read = pipe
    high_water = 16 * 1024
    writer = _Writer(stream, Recorder("err", []), high_water=high_water)
    line = "x" * 91 + "\n"
    lines = 10_000  # 1 MB: far more than the pipe (64 KiB) and the mark hold
    done = trio.Event()
    most = 0

    async def produce() -> None:
        nonlocal most
        for i in range(lines):
            writer.write(_STDOUT, f"{i:08d}{line}")
            most = max(most, writer.pending)
            await writer.drained()
        done.set()

    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(read_all(read)))
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            # Nobody reads the pipe: the producer waits in drained(), and the
            # trio loop is free meanwhile (this task runs).
            await trio.testing.wait_all_tasks_blocked()
            assert not done.is_set()
            assert writer.pending > 0
            assert most <= high_water + len(line) + 8  # memory stays bounded
            reader.start()  # now the pipe is read: the producer goes on
            await done.wait()
        await trio.to_thread.run_sync(writer.close)
        stream.close()  # the reader sees the end
        await trio.to_thread.run_sync(reader.join)
    assert most <= high_water + len(line) + 8
    assert b"".join(chunks).decode().splitlines() == [f"{i:08d}{line[:-1]}" for i in range(lines)]
    assert not output_threads()


async def test_a_reader_that_goes_away_is_a_broken_pipe(
    pipe: tuple[io.TextIOWrapper, int],
) -> None:
    stream, read = pipe
    writer = _Writer(stream, Recorder("err", []), high_water=1024)
    os.close(read)
    with trio.fail_after(WAIT), pytest.raises(BrokenPipeError):  # noqa: PT012
        for _ in range(100):
            writer.write(_STDOUT, "x" * 1000)
            await writer.drained()
    assert writer.failed
    with pytest.raises(BrokenPipeError):
        writer.write(_STDOUT, "more")
    with pytest.raises(BrokenPipeError):
        writer.close()
    assert not output_threads()


def test_other_write_errors_name_the_stream() -> None:
    log: list[tuple[str, str | bytes]] = []
    writer = _Writer(Failing(OSError(errno.EIO, "Input/output error")), Recorder("err", log))
    writer.write(_STDERR, "a note\n")
    writer.write(_STDOUT, "a result\n")
    with pytest.raises(_WriteError, match=r"^cannot write to stdout: Input/output error$"):
        writer.flush(timeout=WAIT)
    with pytest.raises(_WriteError, match="stdout"):
        writer.write(_STDERR, "later\n")  # nothing more is written once a write failed
    with pytest.raises(_WriteError):
        writer.close()
    assert log == [("err", "a note\n")]
    assert not output_threads()


def test_close_gives_up_on_a_reader_that_does_not_read(
    pipe: tuple[io.TextIOWrapper, int],
) -> None:
    stream, read = pipe
    output = _Output(as_json=False, writer=_Writer(stream, Recorder("err", [])))
    output.raw(b"x" * (256 * 1024))  # more than the pipe holds: the thread is stuck
    output.interrupted = True  # after Ctrl-C, close waits only briefly
    output.close()
    assert output.writer.closed
    # The thread ends once its write returns: here when the pipe closes.
    os.close(read)
    for thread in output_threads():
        thread.join(WAIT)
    assert not output_threads()


def test_verbose_logging_goes_through_the_writer_in_order() -> None:
    # -v: the client's log records are queued with the output (a stderr that
    # nobody reads must not block the trio loop either), in order with it.
    log: list[tuple[str, str | bytes]] = []
    out = _Output(as_json=False, writer=_Writer(Recorder("out", log), Recorder("err", log)))
    session_log = logging.getLogger("trio_zookeeper.session")
    with _logging(1, out):
        out.line("before")
        session_log.info("connected to %s", "127.0.0.1:2181")
        session_log.debug("not at -v")
        out.line("after")
    session_log.info("after the block: not shown")
    out.close()
    written = [(name, text) for name, text in log if text]
    assert [name for name, _ in written] == ["out", "err", "out"]
    assert written[0][1] == "before\n"
    assert str(written[1][1]).endswith(
        " trio_zookeeper.session INFO: connected to 127.0.0.1:2181\n"
    )
    assert written[2][1] == "after\n"
    with _logging(1, out):  # the output is closed: a record is dropped, never raised
        session_log.info("dropped")
    assert len([text for _, text in log if text]) == 3
