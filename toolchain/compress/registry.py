"""The Keras objects that compression saves inside a model, by the names a saved model gives them.

An explicit table, read by the loader (toolchain.loader), instead of registration as a side effect
of importing a module: a model saved mid-way (wrappers not yet stripped) loads whoever imported what.
"""
from __future__ import annotations


def saved_objects() -> dict[str, type]:
    """Name -> class for every wrapper and loss compression may leave in a saved model (the bare
    class name that Keras writes now, and the "edgec>" name that earlier edgec versions wrote)."""
    from toolchain.compress.clustering import ClusterWeights
    from toolchain.compress.distill import DistillationLoss
    from toolchain.compress.pruning import PruneLowMagnitude
    from toolchain.compress.qat import FakeQuant, QuantizeWeights

    classes = (ClusterWeights, PruneLowMagnitude, DistillationLoss, FakeQuant, QuantizeWeights)
    return {**{c.__name__: c for c in classes}, **{f"edgec>{c.__name__}": c for c in classes}}
