"""Multiply-accumulates per inference, counted from the graph (the ops that do MACs)."""
from __future__ import annotations

import numpy as np

from toolchain.tflite_reader import TfliteModel


def count_macs(model: TfliteModel) -> int:
    sg = model.main
    total = 0
    for op in sg.operators:
        out = sg.tensors[op.outputs[0]]
        out_elems = int(np.prod(out.shape)) if out.shape else 1
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"):
            w = sg.tensors[op.inputs[1]].shape  # OHWI (conv) or 1HWC (depthwise)
            kernel = int(w[1]) * int(w[2])
            total += out_elems * kernel * (int(w[3]) if op.op != "DEPTHWISE_CONV_2D" else 1)
        elif op.op == "FULLY_CONNECTED":
            w = sg.tensors[op.inputs[1]].shape  # (units, features)
            total += out_elems * int(w[-1])
        elif op.op == "BATCH_MATMUL":
            a = sg.tensors[op.inputs[0]].shape
            total += out_elems * int(a[-1])
    return total
