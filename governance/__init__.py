"""governance: the compliance and governance back office for micro-mentoring platforms."""

__version__ = "0.1.0"
