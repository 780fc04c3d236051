"""The short output rescale (edgec_mbqm_narrow) against TFLite's MultiplyByQuantizedMultiplier
(edgec_mbqm) in C, over the edges of its precondition and a few million random values, and the
generation-time rule that decides where it applies."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firmware_export.cengine import emit
from firmware_export.cengine.host import WARNING_FLAGS, host_compiler
from firmware_export.cengine.ops import narrow_requant

KERNELS = Path(emit.__file__).parent / "kernels"

PROGRAM = r"""
#include <stdio.h>
#include "edgec_common.h"

static uint64_t state = 0x9e3779b97f4a7c15u;
static uint32_t next(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return (uint32_t)state; }

static long checked = 0, wrong = 0;
static void check(int32_t x, int32_t m, int shift)
{
    checked++;
    if (edgec_mbqm_narrow(x, m, shift) != edgec_mbqm(x, m, shift)) {
        if (wrong++ < 5) printf("x=%ld m=%ld shift=%d\n", (long)x, (long)m, shift);
    }
}

int main(void)
{
    const int32_t xs[] = {0, 1, -1, 2, -2, 3, -3, (1 << 30) - 1, -(1 << 30) + 1, (1 << 29), -(1 << 29), 12345, -12345};
    const int32_t ms[] = {1 << 30, (1 << 30) + 1, 0x7fffffff, 0x7ffffffe, 1518500250, 0};
    int shift, i, j;
    long n;
    for (shift = -31; shift <= -1; shift++)
        for (i = 0; i < (int)(sizeof xs / sizeof xs[0]); i++)
            for (j = 0; j < (int)(sizeof ms / sizeof ms[0]); j++) {
                int32_t d;
                for (d = -4; d <= 4; d++) {  /* around every rounding tie of this shift */
                    const int32_t x = xs[i] + d;
                    if (x > -(1 << 30) && x < (1 << 30)) check(x, ms[j], shift);
                }
            }
    for (n = 0; n < 3000000; n++) {
        const int32_t x = (int32_t)(next() % ((1u << 31) - 1)) - ((1 << 30) - 1);
        const int32_t m = (int32_t)((1u << 30) | (next() >> 2));
        check(x, m, -1 - (int)(next() % 31));
    }
    printf("%ld %ld\n", checked, wrong);
    return 0;
}
"""


@pytest.mark.parametrize("defines", [(), ("EDGEC_EMULATE_DSP",)])
def test_narrow_rescale_equals_multiply_by_quantized_multiplier(defines, tmp_path):
    source = tmp_path / "rescale.c"
    source.write_text(PROGRAM)
    exe = tmp_path / "rescale"
    subprocess.run([host_compiler(), "-O2", *WARNING_FLAGS, *(f"-D{d}" for d in defines), "-I", str(KERNELS),
                    "-o", str(exe), str(source)], check=True, capture_output=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    checked, wrong = map(int, lines[-2].split())
    assert checked > 3_000_000
    assert wrong == 0, lines[:-2]


def test_narrow_rule():
    assert narrow_requant((1 << 30) - 1, [-1, -31])
    assert not narrow_requant(1 << 30, [-1])  # 2x would overflow SMMULR's operand
    assert not narrow_requant(1000, [-3, 0])  # no right shift: RoundingDivideByPOT by 0 is not (y+1)>>1
    assert not narrow_requant(1000, [2])  # a left shift
    assert not narrow_requant(1000, [])
