"""What every part of the command line shares.

Constants and exit codes, the two errors a command raises
(:class:`CommandError`, ``_UsageError``) and the connection options.
"""

from __future__ import annotations

import argparse
import re
import ssl
from typing import NoReturn

import attrs

from ._protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    CreateMode,
)
from ._protocol._sasl import SaslMechanism

PROG = "trio-zookeeper"
HOSTS_ENV = "ZOOKEEPER_HOSTS"
DEFAULT_HOSTS = "127.0.0.1:2181"
DEFAULT_TIMEOUT = 10.0

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

_MODES: dict[str, CreateMode] = {
    "persistent": CreateMode.PERSISTENT,
    "ephemeral": CreateMode.EPHEMERAL,
    "sequential": CreateMode.PERSISTENT_SEQUENTIAL,
    "ephemeral-sequential": CreateMode.EPHEMERAL_SEQUENTIAL,
    "container": CreateMode.CONTAINER,
    "ttl": CreateMode.PERSISTENT_WITH_TTL,
    "ttl-sequential": CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
}

# Every four-letter word ZooKeeper 3.8 knows (stmk, which takes an argument, aside).
_STATUS_WORDS = (
    "srvr",
    "mntr",
    "ruok",
    "stat",
    "conf",
    "envi",
    "cons",
    "crst",
    "dirs",
    "dump",
    "gtmk",
    "hash",
    "isro",
    "srst",
    "wchc",
    "wchp",
    "wchs",
)
_NOT_WHITELISTED = re.compile(r"\bis not executed because it is not in the whitelist\b")

_ZXID_FIELDS = frozenset({"czxid", "mzxid", "pzxid"})
_TIME_FIELDS = frozenset({"ctime", "mtime"})

_QUOTA_ROOT = "/zookeeper/quota"
_QUOTA_LIMITS = "zookeeper_limits"
_QUOTA_STATS = "zookeeper_stats"
# setquota/delquota flag -> StatsTrack key.
_QUOTA_KEYS = {"n": "count", "b": "bytes", "N": "countHardLimit", "B": "byteHardLimit"}
_QUOTA_FLAGS = (
    ("-n", "node count, soft"),
    ("-b", "bytes, soft"),
    ("-N", "node count, hard"),
    ("-B", "bytes, hard"),
)

_LOAD_BATCH = 500  # creates per transaction in load
_LOAD_BATCH_BYTES = 256 * 1024  # request bytes per transaction: well below jute.maxbuffer
_PROGRESS_INTERVAL = 0.2  # seconds between progress updates on a terminal

# Commands that wait for events until Ctrl-C (or a count): Ctrl-C is their
# normal end, so it exits 0.
_WATCHING = frozenset({"watch", "addWatch"})


class CommandError(Exception):
    """An expected failure of a command, reported as one ``error: ...`` line.

    Args:
        message: What went wrong (one line).
        exit_code: The process exit status (1 by default).
    """

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _UsageError(Exception):
    """A bad argument: one ``error: ...`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions (so the shell survives them)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}" if self.prog.strip() else message)


@attrs.frozen
class _Connection:
    hosts: str
    timeout: float
    auth: tuple[tuple[str, str], ...]
    ssl_context: ssl.SSLContext | None
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    sasl: SaslMechanism | None = None
