"""Who is knocking: the client's address (coarse, for the list of sessions), its program, its device token."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from fastapi import Request

#: How much of an address the list of sessions keeps: enough to tell "home" from "somewhere else", not a house.
IPV4_PREFIX = 24
IPV6_PREFIX = 48
MAX_CLIENT_CHARS = 200
#: A device token is `secrets.token_urlsafe(32)`: anything much longer is not one.
MAX_DEVICE_TOKEN_CHARS = 64


@dataclass(frozen=True)
class ClientInfo:
    """The caller of a sign-in: full address (only ever hashed), program, and the device token it showed."""

    address: str
    user_agent: str | None = None
    device_token: str | None = None

    @property
    def coarse_address(self) -> str:
        return coarse_address(self.address)

    @property
    def program(self) -> str | None:
        return self.user_agent[:MAX_CLIENT_CHARS] if self.user_agent else None


def coarse_address(address: str) -> str:
    """The network an address is in (IPv4 /24, IPv6 /48), or the text given when it is not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def client_address(request: Request, trust_proxy: bool) -> str:
    """The caller's address; X-Forwarded-For only when a trusted proxy sets it."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else "unknown"


def client_info(request: Request, *, trust_proxy: bool, device_token: str | None) -> ClientInfo:
    """Describe the caller of a sign-in request."""
    if device_token is not None and len(device_token) > MAX_DEVICE_TOKEN_CHARS:
        device_token = None
    return ClientInfo(
        address=client_address(request, trust_proxy),
        user_agent=request.headers.get("user-agent"),
        device_token=device_token or None,
    )
