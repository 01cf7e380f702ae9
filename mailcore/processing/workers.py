"""Handlers run concurrently within one poller (`handler_workers`), in order per identifier.

A chunk's messages are grouped by the identifier they carry (`VEH-1042`: the same file, whose
updates must apply in the order they came), a message without one in a group of its own; the
same message twice (one key) always lands in the group it was first seen in, so its copies are
decided one after the other and the second is a duplicate. Each group's messages are decided
in UID order by one thread; up to `workers` groups run at once. A slow handler (an ERP call)
then no longer holds up the messages of other identifiers; CPU work still shares the GIL.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["in_order_per_group", "groups_by_identifier"]

R = TypeVar("R")
K = TypeVar("K", bound=Hashable)


def groups_by_identifier(
    uids: Sequence[int], identifiers: Mapping[int, str | None], keys: Mapping[int, str]
) -> list[list[int]]:
    """`uids` grouped by identifier (no identifier: one group per message key), each group in
    the order given; a message whose key was seen joins that message's group."""
    groups: dict[str, list[int]] = {}
    group_of_key: dict[str, str] = {}
    for uid in uids:
        ident = identifiers.get(uid)
        name = group_of_key.get(keys[uid]) or (f"id:{ident}" if ident else f"key:{keys[uid]}")
        group_of_key.setdefault(keys[uid], name)
        groups.setdefault(name, []).append(uid)
    return list(groups.values())


def in_order_per_group(
    groups: Sequence[Sequence[K]], run: Callable[[K], R], workers: int
) -> dict[K, R]:
    """`run(item)` for every item: the items of a group one after the other, in order, up to
    `workers` groups at once. The first exception raised is raised here, once every group
    started has finished."""

    def work(group: Sequence[K]) -> list[tuple[K, R]]:
        return [(item, run(item)) for item in group]

    if workers <= 1 or len(groups) <= 1:
        return {item: result for group in groups for item, result in work(group)}
    out: dict[K, R] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mailcore-handler") as pool:
        futures = [pool.submit(work, group) for group in groups]
        for future in futures:
            out.update(future.result())
    return out
