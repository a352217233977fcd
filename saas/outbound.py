"""Calls to other systems' URLs (webhooks, scheduled exports): signed, no redirects, and
never to an internal address unless configured (SSRF guard)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit
from urllib.request import HTTPRedirectHandler, build_opener

from flask import current_app


class NoRedirects(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is an answer, not an invitation to call another host


opener = build_opener(NoRedirects)


def signature(secret: str, timestamp: int, body: str | bytes) -> str:
    """``X-CRM-Signature``: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    data = body.encode() if isinstance(body, str) else body
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + data, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def blocked(url: str) -> str | None:
    """Why the address may not be called (an internal network), or None."""
    if current_app.config.get("WEBHOOK_ALLOW_PRIVATE"):
        return None
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return None  # the request itself reports the name that does not resolve
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"{parts.hostname} is an internal address"
    return None
