"""Zeroconf (mDNS) advertisement of ``_wyoming._tcp`` so Home Assistant's Wyoming integration finds the server."""

from __future__ import annotations

import logging
import socket
from typing import Optional

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."


def local_addresses(host: str) -> list[str]:
    """IPv4 addresses to announce: the bound host, or every non-loopback interface for 0.0.0.0 (loopback only
    when there is nothing else, e.g. an offline test machine)."""
    if host not in ("", "0.0.0.0", "::"):
        try:
            return [socket.gethostbyname(host)]
        except OSError:
            return ["127.0.0.1"]
    import ifaddr  # a zeroconf dependency

    found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
             if isinstance(ip.ip, str) and not ip.ip.startswith("127.")]
    return found or ["127.0.0.1"]


class ZeroconfAdvertiser:
    """Registers one service instance while the server runs (``await start()`` / ``await stop()``)."""

    def __init__(self, name: str, port: int, host: str = "0.0.0.0",
                 properties: Optional[dict[str, str]] = None) -> None:
        self.name = name
        self.port = port
        self.host = host
        self.properties = properties or {}
        self._zeroconf = None
        self._info = None

    async def start(self) -> None:
        """Announce the service (raises OSError when no multicast socket can be opened)."""
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        addresses = local_addresses(self.host)
        interfaces = addresses if addresses != ["127.0.0.1"] else ["127.0.0.1"]
        self._info = AsyncServiceInfo(
            SERVICE_TYPE, f"{self.name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(a) for a in addresses], port=self.port,
            properties=self.properties, server=f"{socket.gethostname().split('.')[0]}.local.",
        )
        self._zeroconf = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        await self._zeroconf.async_register_service(self._info)
        _LOGGER.info("zeroconf: advertising %s on %s port %d", self._info.name, ", ".join(addresses), self.port)

    async def stop(self) -> None:
        """Withdraw the announcement."""
        zc, self._zeroconf = self._zeroconf, None
        if zc is None:
            return
        try:
            if self._info is not None:
                await zc.async_unregister_service(self._info)
        finally:
            await zc.async_close()
