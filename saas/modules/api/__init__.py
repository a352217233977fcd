"""The per-tenant REST API (``/api/v1``): keys, limits, idempotency, problem details."""
