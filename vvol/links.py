"""Linked clusters: victims, offenders and premises that keep turning up on the same crimes, as one problem.

A graph has a node per person and per premises. Two nodes are linked when they share at least
``link_min_shared`` crimes in the window (a victim and an offender on two crimes; a person and a pub on two
crimes); a one-off meeting does not link, so that busy places and prolific people do not chain a whole town into
one cluster. A cluster is a connected component of that graph (``scipy.sparse.csgraph.connected_components``); its
crimes are the crimes that carry at least one of its links.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vvol.config import VvolConfig
from vvol.repeats import Window


@dataclass(frozen=True)
class Links:
    """Linked clusters of one window.

    Attributes:
        ids: cluster code -> ``cluster_id`` (``K`` + 10 hex digits of the SHA-256 of its sorted member names, so a
            cluster keeps its id from one month to the next while its membership stays the same).
        members: one row per member: ``cluster`` (code), ``kind`` (``person``/``premises``), ``member_id``,
            ``roles`` (for people: their roles on the cluster's crimes, such as ``victim+offender``).
        cluster_crime: (cluster code, crime code) pairs, one per crime of each cluster.
    """

    ids: np.ndarray
    members: pd.DataFrame
    cluster_crime: tuple[np.ndarray, np.ndarray]


def linked_clusters(window: Window, config: VvolConfig) -> Links:
    """Find the linked clusters of ``window`` (see the module notes)."""
    crimes, people = window.crimes, window.people
    n_people = len(window.person_ids)
    premises_code = crimes["premises_id"].cat.codes.to_numpy().astype(np.int64)
    premises_names = np.asarray(crimes["premises_id"].cat.categories, dtype=object)
    has_premises = premises_code >= 0
    crime = np.concatenate([people["crime"].to_numpy(), np.flatnonzero(has_premises)])
    node = np.concatenate([people["person"].to_numpy(), n_people + premises_code[has_premises]])
    n_nodes = n_people + len(premises_names)
    entries = pd.DataFrame({"crime": crime, "node": node}).drop_duplicates()
    pairs = entries.merge(entries, on="crime", suffixes=("_a", "_b"))
    pairs = pairs[pairs["node_a"].to_numpy() < pairs["node_b"].to_numpy()]
    code = pairs["node_a"].to_numpy() * n_nodes + pairs["node_b"].to_numpy()
    unique, inverse, shared = np.unique(code, return_inverse=True, return_counts=True)
    kept = shared >= config.link_min_shared
    a, b = unique[kept] // n_nodes, unique[kept] % n_nodes
    if len(a) == 0:
        text = pd.Series([], dtype=object)
        empty = pd.DataFrame({"cluster": np.array([], np.int64), "kind": text, "member_id": text, "roles": text})
        return Links(np.array([], dtype=object), empty, (np.array([], np.int64), np.array([], np.int64)))
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n_nodes, n_nodes))
    _, component = connected_components(graph, directed=False)
    linked_nodes = np.unique(np.concatenate([a, b]))
    cluster_of_component = pd.factorize(component[linked_nodes], sort=True)[0]
    cluster = np.full(n_nodes, -1, dtype=np.int64)
    cluster[linked_nodes] = cluster_of_component

    link_crime = pairs["crime"].to_numpy()[kept[inverse]]
    link_cluster = cluster[pairs["node_a"].to_numpy()[kept[inverse]]]
    cc = np.unique(link_cluster * len(crimes) + link_crime)
    cluster_crime = (cc // len(crimes), cc % len(crimes))

    is_person = linked_nodes < n_people
    names = np.empty(len(linked_nodes), dtype=object)
    names[is_person] = window.person_ids[linked_nodes[is_person]]
    names[~is_person] = premises_names[linked_nodes[~is_person] - n_people]
    members = pd.DataFrame({"cluster": cluster[linked_nodes], "kind": np.where(is_person, "person", "premises"),
                            "member_id": names, "node": linked_nodes})
    members["roles"] = _roles(members, people, cluster_crime, len(crimes))
    members = members.drop(columns="node").sort_values(["cluster", "kind", "member_id"], ignore_index=True)
    member_text = (members["kind"] + ":" + members["member_id"]).groupby(members["cluster"]).agg("|".join)
    ids = np.array(["K" + hashlib.sha256(text.encode()).hexdigest()[:10] for text in member_text], dtype=object)
    return Links(ids, members, cluster_crime)


def _roles(members: pd.DataFrame, people: pd.DataFrame, cluster_crime, n_crimes: int) -> np.ndarray:
    """``victim``, ``offender+suspect`` ... for each person member on the crimes of its own cluster."""
    keys = pd.Index(cluster_crime[0] * n_crimes + cluster_crime[1])
    person_members = members[members["kind"] == "person"]
    rows = people.merge(person_members[["node", "cluster"]], left_on="person", right_on="node")
    rows = rows[keys.get_indexer(rows["cluster"].to_numpy() * n_crimes + rows["crime"].to_numpy()) >= 0]
    roles = (rows[["node", "role"]].astype({"role": str}).drop_duplicates().sort_values(["node", "role"])
             .groupby("node")["role"].agg("+".join))
    return members["node"].map(roles).fillna("").to_numpy(dtype=object)
