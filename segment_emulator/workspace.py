"""The emulated workspace: its state (`state.py`) and the configuration changes that can happen to it.

The state sits below the mutations (they change a `WorkspaceState`), and `Workspace` above them, so a
workspace can offer `ws.mutate()` and `ws.apply()` without an import cycle.
"""

from __future__ import annotations

from random import Random
from typing import Any

from .mutations import Mutation, apply_mutation, random_mutations
from .state import WorkspaceState


class Workspace(WorkspaceState):
    """Everything the emulator serves, and the changes between pipeline runs (see `mutations/`)."""

    def mutate(self, count: int = 5, seed: int | None = None, kinds: Any = None) -> list[Mutation]:
        """Apply `count` random configuration changes, each with its audit event (timestamp = now).

        kinds: None draws from the core kinds (sources, destinations, warehouses, tracking plans, functions,
        labels: what `mutate` always did), "surface" from the kinds on the newer collections (IAM, filters,
        transformations, Engage, Reverse ETL, suppressions), "all" from both, or an iterable of kind names.
        """
        rng = Random(seed) if seed is not None else self._rng
        with self.lock:
            return random_mutations(self, rng, count, kinds)

    def apply(self, kind: str, **kwargs: Any) -> Mutation:
        """Apply one mutation of a given kind; keyword arguments pin its target and values (see `mutations/`)."""
        with self.lock:
            return apply_mutation(self, self._rng, kind, **kwargs)
