"""A tiny hand-written engine with the generated engine's C API, to test the harness and the
serial path on their own: output[j] = clamp(sum of input[4j .. 4j+3]) over 4 ops (one per
output), so every output byte depends on the inputs and is checked against numpy."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HEADER = """#ifndef TOY_H
#define TOY_H
#include <stdint.h>
#define TOY_INPUT_BYTES 16
#define TOY_OUTPUT_BYTES 4
#define TOY_ARENA_BYTES 64
#define TOY_NUM_OPS 4
extern const char *const toy_op_names[];
int toy_invoke(const int8_t *input, int8_t *output);
#endif
"""

SOURCE = """#include "toy.h"
const char *const toy_op_names[] = {"SUM_0", "SUM_1", "SUM_2", "SUM_3"};
#ifdef EDGEC_LAYER_HOOK
void edgec_layer_hook(int op_index);
#endif
static int32_t toy_arena[TOY_ARENA_BYTES / 4];
int toy_invoke(const int8_t *input, int8_t *output)
{
    for (int j = 0; j < 4; j++) {
        int32_t acc = 0;
        for (int i = 0; i < 4; i++) {
            acc += input[4 * j + i];
        }
        toy_arena[j] = acc;
        output[j] = (int8_t)(acc > 127 ? 127 : (acc < -128 ? -128 : acc));
#ifdef EDGEC_LAYER_HOOK
        edgec_layer_hook(j);
#endif
    }
    return 0;
}
"""


@dataclass(frozen=True)
class ToyEngine:
    name: str = "toy"
    files: dict = field(default_factory=lambda: {"toy.h": HEADER, "toy.c": SOURCE})
    activation_bytes: int = 64
    scratch_bytes: int = 0
    caller_input_bytes: int = 16
    input_bytes: int = 16
    output_bytes: int = 4
    input_dtype: str = "int8"
    output_dtype: str = "int8"
    weight_bytes: int = 0
    output_quant: tuple = (1.0, 0)
    plan: tuple = ()


def toy_reference(inputs: np.ndarray) -> np.ndarray:
    sums = inputs.astype(np.int32).reshape(4, 4).sum(axis=1)
    return np.clip(sums, -128, 127).astype(np.int8)
