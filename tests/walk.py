"""Walk a workflow from its first state through every state it can reach, checking that
``allowed_next`` tells the truth: every move it lists is accepted, every other one is
refused with 409 (and changes nothing).

A workflow is given as four callables over a record ``R`` (whatever the test needs to
reach one instance: an id, a clock):

- ``fresh()`` starts a new instance in the first state;
- ``read(r)`` answers the instance's key (its state, with whatever else decides what may
  follow, such as a dispute's tier) and its ``allowed_next``;
- ``move(r, target)`` makes the move as a caller who may make it, with the data it
  needs, and answers the status of the first request (2xx: accepted);
- ``refused(r, target)`` tries a move that is not listed, as every kind of caller, and
  answers the statuses;
- ``detours(key)`` (optional) names steps that are not moves but change what may
  follow, such as letting an appeal window close; ``move`` takes them too.

Reaching a state replays the path that first led there on a fresh instance, so every
instance moves only forward, as in production. No instance is started or moved for
nothing: the instance that first reached a key (the first one, read for the first key;
the one whose move discovered a key) is that key's instance when it is still there on
its turn, and the instance read for a key (unchanged by the refused moves, as asserted)
makes its first listed move; each further move replays the path on a fresh instance,
which is read to be sure the replay reached the key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

R = TypeVar("R")


class Workflow(Generic[R]):
    def __init__(
        self,
        *,
        targets: Iterable[str],
        fresh: Callable[[], Awaitable[R]],
        read: Callable[[R], Awaitable[tuple[Hashable, list[str]]]],
        move: Callable[[R, str], Awaitable[int]],
        refused: Callable[[R, str], Awaitable[list[int]]],
        detours: Callable[[Hashable], list[str]] = lambda key: [],
    ) -> None:
        self.targets = list(targets)
        self.fresh, self.read, self.move, self.refused, self.detours = fresh, read, move, refused, detours

    async def _reach(self, path: list[str]) -> R:
        record = await self.fresh()
        for target in path:
            status = await self.move(record, target)
            assert 200 <= status < 300, (path, target, status)
        return record

    async def explore(self) -> dict[Hashable, list[str]]:
        """Every reachable key with its ``allowed_next``; asserts the property on the way."""
        first = await self.fresh()
        key, _ = await self.read(first)
        paths: dict[Hashable, list[str]] = {key: []}
        # The instance that reached each key first, until that key's turn.
        reached_first: dict[Hashable, R] = {key: first}
        seen: dict[Hashable, list[str]] = {}
        queue = [key]
        while queue:
            key = queue.pop(0)
            path = paths[key]
            record = reached_first.pop(key)
            read_key, allowed = await self.read(record)
            if read_key != key:  # moved on while it waited (time passes in some workflows): replay
                record = await self._reach(path)
                read_key, allowed = await self.read(record)
                assert read_key == key, (path, read_key, key)
            seen[key] = allowed
            for target in self.targets:
                if target not in allowed:
                    statuses = await self.refused(record, target)
                    assert statuses and set(statuses) == {409}, (key, target, statuses)
            after, unchanged = await self.read(record)
            assert (after, unchanged) == (key, allowed), "a refused move changes nothing"
            for index, target in enumerate([*allowed, *self.detours(key)]):
                if index:
                    record = await self._reach(path)
                    replayed, _ = await self.read(record)
                    assert replayed == key, (path, replayed, key)
                status = await self.move(record, target)
                assert 200 <= status < 300, (key, target, status, "listed in allowed_next but refused")
                reached, _ = await self.read(record)
                if reached not in paths:
                    paths[reached] = [*path, target]
                    reached_first[reached] = record
                    queue.append(reached)
        return seen
