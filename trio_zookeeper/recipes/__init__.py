"""Coordination recipes built on the public :class:`~trio_zookeeper.ZooKeeper` API.

Locks (:class:`Lock`, :class:`ReadLock`, :class:`WriteLock`,
:class:`Semaphore`) and leadership (:class:`Election`) are held for the
duration of an ``async with`` block whose body is cancelled when the hold may
have been lost (see :class:`LossPolicy`), then raises :class:`LockLostError`
or :class:`LeadershipLostError`. Node layouts match kazoo 2.11, so the
recipes interoperate with kazoo clients on the same paths; with
``layout=Layout.CURATOR`` the locks, semaphore and election use Apache
Curator 5's layout instead, and :class:`LeaderLatch`, :class:`SharedCount`,
:class:`ServiceDiscovery` and :class:`PersistentNode` are Curator's recipes
of those names. Directories that recipes create are CONTAINER nodes, which
the server removes once they are empty.

Example::

    from trio_zookeeper.recipes import Lock

    async with trio_zookeeper.open_zookeeper("127.0.0.1:2181") as zk:
        async with Lock(zk, "/locks/x", identifier="worker-1"):
            ...
"""

from __future__ import annotations

from ._barrier import Barrier, DoubleBarrier
from ._cache import NodeData, TreeCache, TreeEvent, TreeEventType
from ._common import Layout, LeadershipLostError, LockLostError, LossPolicy
from ._counter import Counter
from ._discovery import ServiceDiscovery, ServiceInstance
from ._election import Election
from ._latch import LeaderLatch
from ._lease import Lease
from ._lock import Lock, ReadLock, Semaphore, WriteLock
from ._node import PersistentEphemeralNode, PersistentNode
from ._partitioner import SetPartitioner
from ._party import Party, ShallowParty
from ._queue import LockingQueue, Queue
from ._shared import SharedCount

__all__ = [
    "Barrier",
    "Counter",
    "DoubleBarrier",
    "Election",
    "Layout",
    "LeaderLatch",
    "LeadershipLostError",
    "Lease",
    "Lock",
    "LockLostError",
    "LockingQueue",
    "LossPolicy",
    "NodeData",
    "Party",
    "PersistentEphemeralNode",
    "PersistentNode",
    "Queue",
    "ReadLock",
    "Semaphore",
    "ServiceDiscovery",
    "ServiceInstance",
    "SetPartitioner",
    "ShallowParty",
    "SharedCount",
    "TreeCache",
    "TreeEvent",
    "TreeEventType",
    "WriteLock",
]

# Present the public names as trio_zookeeper.recipes.X.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("trio_zookeeper.recipes."):
        _obj.__module__ = __name__
del _name, _obj
