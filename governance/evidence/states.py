"""The bundle job's state machine, as data.

``rendering`` and ``uploading`` may move to ``rendering`` again: a worker that died
left the row there, and another one takes it over once the lease has run out.
"""

from __future__ import annotations

from typing import Final, Literal

# Who makes a move: a worker holding the job, or a compliance officer through the API.
Mover = Literal["worker", "officer"]

MOVES: Final[dict[str, dict[str, Mover]]] = {
    "queued": {"rendering": "worker"},
    "rendering": {"rendering": "worker", "uploading": "worker", "failed": "worker"},
    "uploading": {"rendering": "worker", "ready": "worker", "failed": "worker"},
    "ready": {},
    "failed": {"queued": "officer"},  # a retry
}

# Where a worker holds the job (under a lease).
WORKING: Final = frozenset({"rendering", "uploading"})

# A job whose worker died this many times is failed rather than taken over again:
# whatever kills the worker (a bundle too large for its memory, say) would kill the next.
MAX_ATTEMPTS: Final = 3


def may_move(state: str, target: str) -> bool:
    return target in MOVES[state]


def allowed_next(state: str, mover: Mover = "officer") -> list[str]:
    """The moves ``mover`` may make from ``state``: what a bundle's ``allowed_next`` offers
    its readers (the workers' moves are not theirs to ask for)."""
    return sorted(target for target, who in MOVES[state].items() if who == mover)
