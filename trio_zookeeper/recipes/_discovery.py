"""Service discovery in curator-x-discovery's layout: :class:`ServiceDiscovery` and friends.

Node layout (Apache Curator 5's ``ServiceDiscoveryImpl`` with its
``JsonInstanceSerializer``): one node ``BASE/NAME/ID`` per registered
instance, ephemeral for ``DYNAMIC`` instances and persistent for ``STATIC``
and ``PERMANENT`` ones, holding the instance as JSON::

    {"name": "api", "id": "py-1", "address": "127.0.0.1", "port": 8080,
     "sslPort": null, "payload": {"@class": "java.util.LinkedHashMap", ...},
     "registrationTimeUTC": 1700000000000, "serviceType": "DYNAMIC",
     "uriSpec": {"parts": [{"value": "scheme", "variable": true}, ...]}}

``BASE`` and ``BASE/NAME`` are containers. Registrations are kept by a
:class:`~trio_zookeeper.recipes.PersistentNode`, so they come back after a
session expiry.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from .. import ACL, CreateMode, NoAuthError, NoNodeError, ZooKeeper
from ._common import check_acl, check_path, join_path, no_auth, retry
from ._node import PersistentNode

__all__ = ["ServiceDiscovery", "ServiceInstance"]

_SERVICE_TYPES = ("DYNAMIC", "STATIC", "PERMANENT", "DYNAMIC_SEQUENTIAL")
_URI_PART = re.compile(r"\{([^{}]*)\}")
_DEFAULT_PAYLOAD_CLASS = "java.util.LinkedHashMap"
_MODES = {"DYNAMIC": CreateMode.EPHEMERAL, "DYNAMIC_SEQUENTIAL": CreateMode.EPHEMERAL_SEQUENTIAL}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _uri_parts(spec: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    position = 0
    for match in _URI_PART.finditer(spec):
        if match.start() > position:
            parts.append({"value": spec[position : match.start()], "variable": False})
        parts.append({"value": match.group(1), "variable": True})
        position = match.end()
    if position < len(spec):
        parts.append({"value": spec[position:], "variable": False})
    return parts


def _uri_spec(raw: object) -> str | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("parts"), list):
        return None
    out = []
    for part in raw["parts"]:
        if not isinstance(part, dict):
            continue
        value = str(part.get("value", ""))
        out.append("{" + value + "}" if part.get("variable") else value)
    return "".join(out)


def _optional_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int or None, not {value!r}")
    return value


@dataclasses.dataclass
class ServiceInstance:
    """One instance of a service, as curator-x-discovery's ``ServiceInstance``.

    Attributes:
        name: The service's name (a node name: no ``/``).
        id: This instance's id, unique within the service (default: a
            random UUID).
        address: Its host or IP address.
        port: Its port, or None.
        ssl_port: Its TLS port, or None.
        payload: Any JSON value describing it further (a dict is read by
            Java as a ``Map``), or None.
        registration_time_utc: Milliseconds since the epoch (default: now).
        service_type: ``"DYNAMIC"`` (an ephemeral registration, the
            default), ``"STATIC"`` or ``"PERMANENT"`` (persistent nodes).
        uri_spec: Curator's URI template, e.g.
            ``"{scheme}://{address}:{port}"``, or None.
        enabled: Curator's ``enabled`` flag (written only when False).
        payload_class: The Java class Jackson uses for a dict payload (its
            ``@class``); ``java.util.LinkedHashMap`` by default.
    """

    name: str
    id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    address: str | None = None
    port: int | None = None
    ssl_port: int | None = None
    payload: Any = None
    registration_time_utc: int = dataclasses.field(default_factory=_now_ms)
    service_type: str = "DYNAMIC"
    uri_spec: str | None = None
    enabled: bool = True
    payload_class: str | None = None

    def __post_init__(self) -> None:
        for what, value in (("name", self.name), ("id", self.id)):
            if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
                raise ValueError(f"a service {what} must be a non-empty node name, not {value!r}")
        self.port = _optional_int(self.port, "port")
        self.ssl_port = _optional_int(self.ssl_port, "ssl_port")
        if self.service_type not in _SERVICE_TYPES:
            raise ValueError(
                f"service_type must be one of {', '.join(_SERVICE_TYPES)}, "
                f"not {self.service_type!r}"
            )

    def to_json(self) -> bytes:
        """The instance as curator-x-discovery's JSON (UTF-8).

        Returns:
            The node data.
        """
        payload = self.payload
        if isinstance(payload, dict) and "@class" not in payload:
            payload = {"@class": self.payload_class or _DEFAULT_PAYLOAD_CLASS, **payload}
        out: dict[str, Any] = {
            "name": self.name,
            "id": self.id,
            "address": self.address,
            "port": self.port,
            "sslPort": self.ssl_port,
            "payload": payload,
            "registrationTimeUTC": self.registration_time_utc,
            "serviceType": self.service_type,
            "uriSpec": None if self.uri_spec is None else {"parts": _uri_parts(self.uri_spec)},
        }
        if not self.enabled:
            out["enabled"] = False
        return json.dumps(out, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ServiceInstance:
        """Read an instance from curator-x-discovery's JSON; unknown keys are ignored.

        Args:
            data: The node data.

        Returns:
            The instance.

        Raises:
            ValueError: Not JSON, or without a name and an id.
        """
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a service instance (invalid JSON): {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError("not a service instance (not a JSON object)")
        payload = raw.get("payload")
        payload_class = None
        if isinstance(payload, dict) and "@class" in payload:
            payload = dict(payload)
            payload_class = str(payload.pop("@class"))
        service_type = raw.get("serviceType") or "DYNAMIC"
        return cls(
            name=str(raw.get("name", "")),
            id=str(raw.get("id", "")),
            address=raw.get("address"),
            port=raw.get("port"),
            ssl_port=raw.get("sslPort"),
            payload=payload,
            registration_time_utc=int(raw.get("registrationTimeUTC") or 0),
            service_type=service_type if service_type in _SERVICE_TYPES else "DYNAMIC",
            uri_spec=_uri_spec(raw.get("uriSpec")),
            enabled=raw.get("enabled", True) is not False,
            payload_class=payload_class,
        )

    def build_uri(self, **variables: object) -> str:
        """Fill the URI template, as Curator's ``buildUriSpec``.

        ``{scheme}`` is ``https`` when ``ssl_port`` is set, else ``http``;
        ``{name}``, ``{id}``, ``{address}``, ``{port}``, ``{ssl-port}`` come
        from the instance; ``variables`` add or override.

        Returns:
            The URI ("" without a template).
        """
        if self.uri_spec is None:
            return ""
        values: dict[str, object] = {
            "scheme": "https" if self.ssl_port is not None else "http",
            "name": self.name,
            "id": self.id,
            "address": self.address,
            "port": self.port,
            "ssl-port": self.ssl_port,
            **variables,
        }
        return _URI_PART.sub(
            lambda m: str(values.get(m.group(1), "{" + m.group(1) + "}")), self.uri_spec
        )


class ServiceDiscovery:
    """Register and find service instances (curator-x-discovery compatible, both directions).

    Example::

        discovery = ServiceDiscovery(zk, base_path="/services")
        me = ServiceInstance(name="api", id="py-1", address="10.0.0.7", port=8080)
        async with discovery.register(me):
            for instance in await discovery.query("api"):
                print(instance.address, instance.port)
            me.port = 8081
            await discovery.update(me)

    Args:
        zk: The client.
        base_path: The discovery root (Curator's ``basePath``).
        acl: The ACL of the nodes it creates; None for the client's default.
    """

    def __init__(
        self, zk: ZooKeeper, base_path: str = "/services", *, acl: Sequence[ACL] | None = None
    ) -> None:
        self._zk = zk
        self.base_path = check_path(base_path)
        self.acl = check_acl(acl)
        self._registered: dict[tuple[str, str], PersistentNode] = {}

    def _path(self, name: str, instance_id: str | None = None) -> str:
        path = join_path(self.base_path, name)
        return path if instance_id is None else join_path(path, instance_id)

    @asynccontextmanager
    async def register(self, instance: ServiceInstance) -> AsyncIterator[ServiceInstance]:
        """Register ``instance`` for the block (kept across session expiry), then unregister it.

        Entering returns once the node exists. ``DYNAMIC`` instances are
        ephemeral nodes: re-created after a session expiry or a deletion.

        Args:
            instance: The instance.

        Yields:
            The instance.

        Raises:
            RuntimeError: That name and id are already registered here.
            NoAuthError: The ACL keeps this session from using the nodes.
        """
        key = (instance.name, instance.id)
        if key in self._registered:
            raise RuntimeError(f"service {instance.name}/{instance.id} is already registered")
        mode = _MODES.get(instance.service_type, CreateMode.PERSISTENT)
        node = PersistentNode(
            self._zk, self._path(*key), instance.to_json(), mode=mode, acl=self.acl
        )
        # As Curator: a registration of that name and id left by another
        # session (a crashed instance not expired yet) is replaced.
        node._take_over = True
        self._registered[key] = node
        try:
            async with node:
                yield instance
        finally:
            self._registered.pop(key, None)

    async def update(self, instance: ServiceInstance) -> None:
        """Write ``instance``'s new fields to its registration (and later re-creations).

        Args:
            instance: A registered instance (same name and id).

        Raises:
            KeyError: It is not registered through this object.
        """
        node = self._registered.get((instance.name, instance.id))
        if node is None:
            raise KeyError(f"service {instance.name}/{instance.id} is not registered here")
        await node.set_data(instance.to_json())

    async def unregister(self, instance: ServiceInstance) -> None:
        """Remove ``instance``'s registration now (the register block goes on without it).

        Args:
            instance: A registered instance (same name and id).

        Raises:
            KeyError: It is not registered through this object.
        """
        node = self._registered.pop((instance.name, instance.id), None)
        if node is None:
            raise KeyError(f"service {instance.name}/{instance.id} is not registered here")
        await node._stop()

    async def names(self) -> list[str]:
        """The names of the registered services (``[]`` if there are none).

        Returns:
            The names, sorted.
        """
        try:
            return sorted(await retry(self._zk, self._zk.get_children, self.base_path))
        except NoNodeError:
            return []
        except NoAuthError as exc:
            raise no_auth(self.base_path, "service discovery", self.acl, exc) from None

    async def query(self, name: str) -> list[ServiceInstance]:
        """The registered instances of the service ``name`` (Java ones included).

        Nodes that are not valid instance JSON are skipped.

        Args:
            name: The service name.

        Returns:
            The instances, ordered by id.
        """
        zk = self._zk
        path = self._path(name)
        try:
            ids = await retry(zk, zk.get_children, path)
        except NoNodeError:
            return []
        except NoAuthError as exc:
            raise no_auth(path, "service discovery", self.acl, exc) from None
        out: list[ServiceInstance] = []
        for instance_id in sorted(ids):
            try:
                data, _ = await retry(zk, zk.get_data, join_path(path, instance_id))
            except NoNodeError:
                continue
            except NoAuthError as exc:
                raise no_auth(path, "service discovery", self.acl, exc) from None
            try:
                out.append(ServiceInstance.from_json(data))
            except (ValueError, TypeError):
                continue
        return out

    async def query_instance(self, name: str, instance_id: str) -> ServiceInstance | None:
        """One instance by name and id.

        Returns:
            The instance, or None if it is not registered.
        """
        try:
            data, _ = await retry(self._zk, self._zk.get_data, self._path(name, instance_id))
        except NoNodeError:
            return None
        return ServiceInstance.from_json(data)
