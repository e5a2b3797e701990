"""Vehicle groups for the measures: arterial traffic against side-street traffic.

A vehicle that turns somewhere on its route is ``turning``; every other vehicle drives
straight on from its entry link, so its group follows from the straight route from that link:

* ``arterial`` — the route drives at least two consecutive links of a declared corridor chain
  (``world.network.corridors``; a corridor of a single link: that link).  Two, not one, so that
  a route touching a corridor on one link only (e.g. an imported street merging onto a
  corridor's exit link) is not taken for arterial traffic; a route that enters upstream of a
  corridor's first link (SUMO imports, whose corridors may start inside the network) and then
  follows it is.
* ``side_street`` — every other vehicle: the cross streets of generated corridors, streets of
  an imported network that no corridor declares.

* ``turning`` — vehicles whose route turns at an intersection (left or right, at least once;
  ``SimResult.vehicles["turns"]``), whichever street they came from.

``GROUPS`` partition the vehicles (every vehicle is in exactly one).  On a ``[grid]`` scenario
every street is a corridor, so straight-on traffic is all ``arterial``.

``SUBGROUPS`` split ``arterial`` by the corridor's own direction (``<id>_f`` forward,
``<id>_b`` backward, as the scenario declares them): ``arterial_forward``,
``arterial_backward``.  They partition ``arterial`` and are reported apart from the groups.
"""

from __future__ import annotations

import numpy as np

from .engine import straight_links

GROUPS = ("arterial", "side_street", "turning")
"""Names of the groups, in report order; codes are their indices."""

SUBGROUPS = {"arterial_forward": "arterial", "arterial_backward": "arterial"}
"""Subgroup name → the group it splits, in report order."""

_NONE = -1  # direction code of a route on no corridor
_DIRECTION_CODES = {"f": 0, "b": 1}  # corridor id suffix → index into the arterial subgroups


def route_groups(net, entry_links) -> tuple[np.ndarray, np.ndarray]:
    """Group and arterial direction of the straight route from each entry link.

    Parameters
    ----------
    net : :class:`greenwave.network.Network`
    entry_links : (R,) int, link indices where routes start

    Returns
    -------
    group : (R,) int64, index into :data:`GROUPS`
    direction : (R,) int64, 0 forward, 1 backward (the first corridor the route follows, in
        the network's corridor order), -1 for side-street routes
    """
    entry_links = np.asarray(entry_links, dtype=np.int64)
    r = entry_links.size
    direction = np.full(r, _NONE, dtype=np.int64)
    if r == 0:
        return np.zeros(0, dtype=np.int64), direction
    links = straight_links(net, entry_links)  # (R, Lmax), -1 padding
    n = np.int64(net.n_links)
    # Consecutive link pairs of every route, coded a * n + b (-1 where a pair runs into padding).
    pairs = np.where(
        (links[:, :-1] >= 0) & (links[:, 1:] >= 0), links[:, :-1] * n + links[:, 1:], -1
    )
    # Iterate backwards over the corridors so that the first corridor a route follows wins.
    for cid, _, chain in reversed(net.corridors):
        chain = np.asarray(chain, dtype=np.int64)
        if chain.size == 0:
            continue
        if chain.size == 1:
            on = (links == chain[0]).any(axis=1)
        else:
            on = np.isin(pairs, chain[:-1] * n + chain[1:]).any(axis=1)
        direction[on] = _DIRECTION_CODES.get(str(cid)[-1], 0)
    group = np.where(direction >= 0, GROUPS.index("arterial"), GROUPS.index("side_street"))
    return group.astype(np.int64), direction


def vehicle_masks(
    net, entry_links, vehicle_entry_link, vehicle_turns=None
) -> dict[str, np.ndarray]:
    """Boolean masks of the vehicles in each group and subgroup.

    Parameters
    ----------
    net : :class:`greenwave.network.Network`
    entry_links : (R,) int, the entry links of the run's routes (``SimResult.extra
        ["entry_links"]``)
    vehicle_entry_link : (A,) int, each vehicle's entry link (``SimResult.vehicles
        ["entry_link"]``)
    vehicle_turns : (A,) int, optional, turns on each vehicle's route (``SimResult.vehicles
        ["turns"]``; None: nobody turns)

    Returns
    -------
    ``{name: (A,) bool}`` for every name of :data:`GROUPS` and :data:`SUBGROUPS` (masks may be
    all False); the group masks partition the vehicles.
    """
    group, direction = route_groups(net, entry_links)
    # Look-up tables over links: a vehicle's route is the one starting at its entry link.
    by_link_group = np.full(net.n_links, GROUPS.index("side_street"), dtype=np.int64)
    by_link_dir = np.full(net.n_links, _NONE, dtype=np.int64)
    entry_links = np.asarray(entry_links, dtype=np.int64)
    by_link_group[entry_links] = group
    by_link_dir[entry_links] = direction
    veh = np.asarray(vehicle_entry_link, dtype=np.int64)
    g, d = by_link_group[veh], by_link_dir[veh]
    if vehicle_turns is not None:
        turns = np.asarray(vehicle_turns) > 0
        g = np.where(turns, GROUPS.index("turning"), g)
        d = np.where(turns, _NONE, d)
    masks = {name: g == k for k, name in enumerate(GROUPS)}
    for k, name in enumerate(SUBGROUPS):
        masks[name] = d == k
    return masks


def group_rows(result: dict) -> list[tuple[str, dict]]:
    """``(name, block)`` of a ``compare`` result's groups in :data:`GROUPS` order, each followed
    by its subgroups: the rows of the tables that show them."""
    groups, subgroups = result.get("groups") or {}, result.get("subgroups") or {}
    rows = []
    for name in GROUPS:
        if name in groups:
            rows.append((name, groups[name]))
            rows += [
                (s, subgroups[s]) for s, of in SUBGROUPS.items() if of == name and s in subgroups
            ]
    return rows
