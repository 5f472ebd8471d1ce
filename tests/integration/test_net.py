"""The shared network helpers (``_net``) against the real server."""

from __future__ import annotations

import pytest
import trio

from trio_zookeeper._hosts import HostPort
from trio_zookeeper._net import four_letter_word, open_stream

from .conftest import Server


async def test_four_letter_word_reads_the_whole_answer(zookeeper_server: Server) -> None:
    host = HostPort(zookeeper_server.host, zookeeper_server.port)
    with trio.fail_after(30):
        answer = await four_letter_word(host, "srvr")
    assert answer.startswith("Zookeeper version:")
    assert "Mode: " in answer


async def test_four_letter_word_rejects_a_bad_word_before_connecting() -> None:
    with pytest.raises(ValueError, match="four ASCII letters"):
        await four_letter_word(HostPort("127.0.0.1", 1), "stat!")


async def test_a_refused_port_is_an_os_error() -> None:
    with trio.fail_after(30), pytest.raises(OSError, match=r"(?i)refused|connect"):
        await four_letter_word(HostPort("127.0.0.1", 1), "ruok")


async def test_open_stream_connects_to_the_server(zookeeper_server: Server) -> None:
    with trio.fail_after(30):
        stream = await open_stream(HostPort(zookeeper_server.host, zookeeper_server.port))
        async with stream:
            await stream.send_all(b"ruok")
            assert await stream.receive_some(4) == b"imok"
