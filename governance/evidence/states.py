"""The bundle job's state machine, as data.

``rendering`` and ``uploading`` may move to ``rendering`` again: a worker that died
left the row there, and another one takes it over once the lease has run out.
"""

from __future__ import annotations

from typing import Final

MOVES: Final[dict[str, frozenset[str]]] = {
    "queued": frozenset({"rendering"}),
    "rendering": frozenset({"rendering", "uploading", "failed"}),
    "uploading": frozenset({"rendering", "ready", "failed"}),
    "ready": frozenset(),
    "failed": frozenset({"queued"}),  # a retry, asked for by a compliance officer
}

# Where a worker holds the job (under a lease).
WORKING: Final = frozenset({"rendering", "uploading"})

# A job whose worker died this many times is failed rather than taken over again:
# whatever kills the worker (a bundle too large for its memory, say) would kill the next.
MAX_ATTEMPTS: Final = 3


def may_move(state: str, target: str) -> bool:
    return target in MOVES[state]


def allowed_next(state: str) -> list[str]:
    return sorted(MOVES[state])
