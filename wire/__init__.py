"""The HTTP API's request and answer bodies, in pydantic only (no web framework, no NATS), so the
server and its Python client share one definition of every body."""
