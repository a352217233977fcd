"""Rate limits per API key and per tenant, by plan, counted in Redis.

Fixed one-minute windows: one pipelined round trip per call increments both
counters. The answer carries the standard headers (the IETF draft's ``RateLimit``
and ``RateLimit-Policy``, and the widely used ``RateLimit-Limit`` / ``-Remaining`` /
``-Reset``); over the limit the call gets a 429 with ``Retry-After``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app

from saas.extensions import redis

WINDOW = 60


@dataclass(frozen=True)
class Verdict:
    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"default";q={self.limit};w={WINDOW}',
            "RateLimit": f'"default";r={self.remaining};t={self.reset}',
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


def limits_for(plan: str) -> dict[str, int]:
    """Calls per minute for one key and for the whole tenant on ``plan``."""
    table = current_app.config["API_RATE_LIMITS"]
    return table.get(plan) or table["default"]


def check(tenant_id: str, key_id: int, plan: str, *, read: tuple = ()) -> tuple[Verdict, tuple]:
    """Count this call against the key's and the tenant's windows; the values of the
    Redis keys ``read`` come back in the same round trip."""
    now = time.time()
    window = int(now // WINDOW)
    reset = max(1, int((window + 1) * WINDOW - now))
    keys = (f"ratelimit:{tenant_id}:key:{key_id}:{window}", f"ratelimit:{tenant_id}:all:{window}")
    by_key, by_tenant, *values = _count(keys=[*keys, *read], args=[WINDOW + 5])
    limits = limits_for(plan)
    left = [
        (limits["key"], limits["key"] - by_key),
        (limits["tenant"], limits["tenant"] - by_tenant),
    ]
    limit, remaining = min(left, key=lambda pair: pair[1])
    return Verdict(limit, max(0, remaining), reset, remaining >= 0), tuple(values)


# Both counters and the values asked for, in one call the server runs as one step.
COUNT = """
local out = {}
for i = 1, 2 do
  out[i] = redis.call('INCR', KEYS[i])
  if out[i] == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
for i = 3, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
return out
"""
_scripts: dict = {}


def _count(keys: list[str], args: list) -> list:
    client = redis()
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(COUNT)
    return script(keys=keys, args=args)
