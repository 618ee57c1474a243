"""Per-request context that services may read without it being threaded through every call."""

from contextvars import ContextVar

# Set by the request-logging middleware; audit entries carry it so an entry can be tied
# to the log line of the request that caused it.
request_id_var: ContextVar[str | None] = ContextVar("governance_request_id", default=None)
