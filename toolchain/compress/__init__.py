"""Compression for microcontrollers on Keras 3, with tfmot-style names.

    from toolchain.compress import prune_low_magnitude, PolynomialDecay, UpdatePruningStep, strip_pruning

    pruned = prune_low_magnitude(model, PolynomialDecay(0.0, 0.75, begin_step=0, end_step=1000))
    pruned.compile(...); pruned.fit(x, y, callbacks=[UpdatePruningStep()])
    model = strip_pruning(pruned)

Names load lazily: importing this package (or its recipe and data modules) does not import Keras.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    # magnitude pruning
    "prune_low_magnitude": "pruning", "strip_pruning": "pruning", "PruneLowMagnitude": "pruning",
    "ConstantSparsity": "pruning", "PolynomialDecay": "pruning", "PruningSchedule": "pruning",
    "UpdatePruningStep": "pruning", "kernel_sparsity": "pruning",
    # structured pruning
    "prune_structured": "structured", "plan_structured": "structured", "apply_structured": "structured",
    "Importance": "structured",
    # clustering
    "cluster_weights": "clustering", "strip_clustering": "clustering", "ClusterWeights": "clustering",
    "CentroidInitialization": "clustering", "unique_values": "clustering",
    # quantization-aware training
    "quantize_model": "qat", "calibrate_ranges": "qat", "FakeQuant": "qat", "QuantizeWeights": "qat",
    # low-rank factorization
    "factorize_low_rank": "factorize", "low_rank_plan": "factorize",
    # distillation
    "distill": "distill", "DistillationLoss": "distill",
    # LUT rewrite of int8 models, measurements
    "lut_compress": "lut", "deploy": "measure",
    # recipe, data, pipeline
    "Recipe": "recipe", "load_recipe": "recipe", "parse_recipe": "recipe",
    "Dataset": "data", "load_dataset": "data",
    "compress": "pipeline", "CompressResult": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolchain.compress' has no attribute {name!r}")
    return getattr(importlib.import_module(f"toolchain.compress.{module}"), name)
