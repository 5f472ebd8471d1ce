"""Genuine server-side session expiry for tests.

``expire_session`` does what the ZooKeeper FAQ describes (and Curator's and
kazoo's harnesses did before they switched to simulations): a second
connection presents the same session id and password, which takes the
session over, then sends closeSession. The server deletes the session's
ephemeral nodes and fires its watches at once; the original client finds its
connection closed and, on reconnecting, is told the session expired. Nothing
in the client is faked.
"""

from __future__ import annotations

from trio_zookeeper import KeeperState, ZooKeeper
from trio_zookeeper._hosts import HostPort, parse_connect_string
from trio_zookeeper._net import open_stream
from trio_zookeeper._protocol import (
    ClientProtocol,
    Connected,
    ConnectRequest,
    Empty,
    OpCode,
    Reply,
)

__all__ = ["expire_session"]


async def expire_session(zk: ZooKeeper, *, via: str | None = None, wait: bool = True) -> None:
    """Expire ``zk``'s session on the server, for real.

    Args:
        zk: The client whose session to expire.
        via: ``host:port`` of the server to use (with an ensemble, use a member
            other than the client's). Defaults to the server ``zk`` is
            connected to.
        wait: Also wait until ``zk`` has observed the expiry (its state went
            through EXPIRED). Bound the wait with a cancel scope.

    Raises:
        RuntimeError: ``zk`` has no session, or the server did not accept the
            takeover.
    """
    session_id, password = zk.session_id, zk.session_password
    if session_id == 0:
        raise RuntimeError("the client has no session to expire")
    address = via or zk.statistics().server
    if address is None:
        raise RuntimeError("the client is not connected; pass via='host:port'")
    host = parse_connect_string(address).hosts[0]
    async with zk.session_states() as states:
        await _take_over_and_close(host, session_id, password, zk.session_timeout)
        if wait:
            while zk.session_id == session_id and zk.state is not KeeperState.EXPIRED:
                state = await states.receive()
                if state is KeeperState.EXPIRED:
                    break


async def _take_over_and_close(
    host: HostPort, session_id: int, password: bytes, session_timeout: float
) -> None:
    stream = await open_stream(host)
    async with stream:
        protocol = ClientProtocol()
        await stream.send_all(
            protocol.connect(
                ConnectRequest(
                    time_out=int(session_timeout * 1000), session_id=session_id, passwd=password
                )
            )
        )
        connected = False
        while True:
            data = await stream.receive_some(65536)
            for event in protocol.receive_data(data):
                if isinstance(event, Connected):
                    if event.response.time_out <= 0:
                        return  # already expired
                    if event.response.session_id != session_id:
                        raise RuntimeError("the server did not resume the session to expire")
                    connected = True
                    _, frame = protocol.send_request(OpCode.CLOSE_SESSION, Empty())
                    await stream.send_all(frame)
                elif isinstance(event, Reply) and event.op == OpCode.CLOSE_SESSION:
                    return
            if not data:
                if connected:
                    return  # the server closes the socket after closeSession
                raise RuntimeError("the server closed the connection during the takeover")
