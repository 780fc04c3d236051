"""The engine's typed ops: what each generated kernel call needs, fully precomputed.

`lower.lower_model` turns TFLite operators into these frozen dataclasses; the planner reads their
tensor ids (and `inplace_lag` the geometry), the emitter writes them as C. Arrays are numpy
values in the exact integer types the C side declares (weights int8, biases and multipliers int32,
shifts int8, tables int8/int32/float32).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .storage import PackedWeights


def _a4(n: int) -> int:
    return (n + 3) // 4 * 4


@dataclass(frozen=True)
class TensorInfo:
    """An activation tensor: lives in the arena (or aliases one that does)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8" or "float32"
    nbytes: int


@dataclass(frozen=True)
class Operand:
    """A kernel input: an activation tensor, or a constant kept in flash."""

    tensor: int
    const: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def is_const(self) -> bool:
        return self.const is not None


@dataclass(frozen=True)
class Requant:
    """Per-channel (or per-tensor, length 1) output rescaling and clamp of a MAC kernel."""

    multiplier: np.ndarray = field(repr=False)  # int32
    shift: np.ndarray = field(repr=False)  # int8
    output_zp: int
    act_min: int
    act_max: int
    narrow: bool = False  # every |accumulator| < 2^30 and every shift a right shift: the short exact path


def narrow_requant(acc_bound: int, shifts) -> bool:
    """Whether edgec_mbqm_narrow computes MultiplyByQuantizedMultiplier exactly for a kernel whose
    accumulators never exceed acc_bound in magnitude and whose shifts are `shifts`."""
    return acc_bound < (1 << 30) and len(shifts) > 0 and all(int(s) <= -1 for s in shifts)


@dataclass(frozen=True)
class Conv2D:
    index: int
    op: str
    input: int
    output: int
    weights: np.ndarray = field(repr=False)  # int8 [cout, kh, kw, cin_per_group]
    bias: np.ndarray = field(repr=False)  # int32 [cout], input zero point folded in
    requant: Requant = field(repr=False)
    batches: int
    in_hwc: tuple[int, int, int]
    out_hwc: tuple[int, int, int]
    kernel_hw: tuple[int, int]
    stride_hw: tuple[int, int]
    dilation_hw: tuple[int, int]
    pad_tl: tuple[int, int]
    groups: int
    input_zp: int
    weights_name: str = ""  # the filter tensor's name in the .tflite
    packed: PackedWeights | None = field(default=None, repr=False, compare=False)  # None: dense int8
    tile: int = 0  # packed: output pixels per decoding of the weights
    rows: int = 0  # clustered, one group: output channels decoded per chunk (edgec_conv2d_rows_s8); 0: tiles
    # clustered, 4-bit indices, one codebook: edgec_conv2d_pairs_s8's pair table (fcpairs.table), int32[256]
    # in flash (DSP builds); empty: not that kernel
    pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False, compare=False)
    table_in_scratch: bool = False  # edgec_conv2d_pairs_s8 with its table built in scratch (pairs empty)
    # edgec_conv2d_pwt_s8 decoding more than once: the pair table of fcpairs.py, int32[256]; empty: none
    pwt_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False, compare=False)

    @property
    def weight_rows(self) -> np.ndarray:
        """[cout, taps]: each output channel's weights in the kernel's tap order (ky, kx, c)."""
        return self.weights.reshape(len(self.weights), -1)

    @property
    def weights_in_flash(self) -> np.ndarray:
        """The weights as emitted: flat, then zeros up to a multiple of 4 taps past the last channel,
        since the DSP kernel reads each channel's taps in whole words (the column's padding taps are
        0, so whatever those bytes hold contributes nothing)."""
        taps = self.weights[0].size if len(self.weights) else 0
        return np.concatenate([self.weights.reshape(-1), np.zeros(-taps % 4, np.int8)])

    @property
    def scratch_bytes(self) -> int:
        """The DSP kernel's two int16 im2col columns (taps rounded up to 4), and when the input
        channels are not a multiple of 4 the window's bytes gathered before they are unpacked; none
        when grouped. Packed weights: the layout of edgec_conv2d_packed_s8 (any path)."""
        if self.packed is not None and self.rows:
            return rows_conv_scratch(self, self.rows)
        if self.packed is not None and runs_pairs(self):
            return pairs_conv_scratch(self)
        if self.packed is not None:
            return packed_conv_scratch(self, self.packed, self.tile)
        if self.groups != 1:
            return 0
        padded = -(-self.kernel_hw[0] * self.kernel_hw[1] * self.in_hwc[2] // 4) * 4
        return 2 * padded * 2 + (padded if self.in_hwc[2] % 4 else 0)


@dataclass(frozen=True)
class DepthwiseConv2D:
    index: int
    op: str
    input: int
    output: int
    weights: np.ndarray = field(repr=False)  # int8 [kh, kw, cout]
    bias: np.ndarray = field(repr=False)  # int32 [cout], input zero point folded in
    requant: Requant = field(repr=False)
    batches: int
    in_hwc: tuple[int, int, int]
    out_hwc: tuple[int, int, int]
    kernel_hw: tuple[int, int]
    stride_hw: tuple[int, int]
    dilation_hw: tuple[int, int]
    pad_tl: tuple[int, int]
    depth_multiplier: int
    input_zp: int
    weights_name: str = ""
    packed: PackedWeights | None = field(default=None, repr=False, compare=False)
    tile: int = 0
    chunk: int = 0  # clustered, DSP layout: groups of 4 channels decoded per chunk (edgec_dwconv2d_dwg_s8)
    pair_layout: bool = False  # the chunks in the pair layout of a column layer (edgec_dwconv2d_dwp_s8, dwpairs.py)
    columns: int = 0  # clustered column layer: channels decoded per chunk (edgec_dwconv2d_dwc_s8, dwcolpack.py)

    @property
    def weight_rows(self) -> np.ndarray:
        """[cout, kh * kw]: each output channel's taps."""
        return np.ascontiguousarray(self.weights.reshape(-1, self.weights.shape[-1]).T)

    @property
    def scratch_bytes(self) -> int:
        """Packed weights, tile 0: the whole layer decoded in the dense layout, then one channel; any
        other tile: a block of 16 decoded channels, one decoded channel, and per tap the list of the
        block's nonzero channels (16 bytes) and its length."""
        if self.packed is None or self.packed.layout in ("fixed", "dw_block"):  # run as stored: none
            return 0
        taps = self.kernel_hw[0] * self.kernel_hw[1]
        if self.chunk and self.pair_layout:  # edgec_dwconv2d_dwp_s8: the chunk's groups in the pair layout
            return 4 * self.chunk * (16 + 4 * ((taps + 1) // 2))
        if self.columns:  # edgec_dwconv2d_dwc_s8: the chunk's records of edgec_dwcol.h, 7 words a channel
            return 28 * self.columns
        if self.chunk:  # edgec_dwconv2d_dwg_s8: the chunk's groups in the DSP layout (dwlayout.py)
            return 4 * self.chunk * (16 + 2 * taps)
        if self.tile == 0:  # edgec_dwconv2d_unpacked_s8: every weight decoded, then one channel
            return _a4(taps * self.out_hwc[2]) + _a4(taps)
        return _a4(taps * 16 + taps + taps * 16 + taps)


@dataclass(frozen=True)
class FullyConnected:
    index: int
    op: str
    input: int
    output: int
    weights: np.ndarray = field(repr=False)  # int8 [out, in]
    bias: np.ndarray = field(repr=False)  # int32 [out], input zero point folded in
    requant: Requant = field(repr=False)
    batches: int
    in_features: int
    out_features: int
    weights_name: str = ""
    packed: PackedWeights | None = field(default=None, repr=False, compare=False)
    tile: int = 0
    # clustered, 4-bit indices, one codebook: the DSP kernel's pair table (fcpairs.py), int32[256]; empty: none
    pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False, compare=False)
    table_in_scratch: bool = False  # the same kernel, its pair table built in scratch (pairs empty)

    @property
    def weight_rows(self) -> np.ndarray:
        return self.weights

    @property
    def scratch_bytes(self) -> int:
        """Packed rows are read as stored; the block formats (edgec_fully_connected_block_s8) need the
        input padded to whole words when in_features is not a multiple of 4, and block_clustered a
        decoded row; the pair table's kernel (edgec_fully_connected_pairs_s8) the input as int16, after
        the table when it builds it there."""
        pk = self.packed
        if len(self.pairs) or self.table_in_scratch:
            return 4 * 256 * self.table_in_scratch + 2 * _a4(self.in_features)
        if pk is None or pk.layout != "block":
            return 0
        return (_a4(pk.taps) if pk.taps % 4 else 0) + block_row_bytes(pk)


@dataclass(frozen=True)
class Pool2D:
    index: int
    op: str  # AVERAGE_POOL_2D or MAX_POOL_2D
    input: int
    output: int
    batches: int
    in_hwc: tuple[int, int, int]
    out_hwc: tuple[int, int, int]
    kernel_hw: tuple[int, int]
    stride_hw: tuple[int, int]
    pad_tl: tuple[int, int]
    act_min: int
    act_max: int


@dataclass(frozen=True)
class Binary:
    """ADD / SUB / MUL with up-to-4-D broadcasting (strides 0 on broadcast dimensions)."""

    index: int
    op: str
    input1: Operand
    input2: Operand
    output: int
    out_shape4: tuple[int, int, int, int]
    strides1: tuple[int, int, int, int]
    strides2: tuple[int, int, int, int]
    input1_offset: int
    input2_offset: int
    output_offset: int
    # ADD/SUB: left_shift, input1 (mult, shift), input2 (mult, shift), output (mult, shift)
    # MUL: output (mult, shift) only
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int
    narrow: bool  # the output rescale may take edgec_mbqm_narrow (see narrow_requant)
    # ADD/SUB: each input's rescaled value for every int8 value (index x + 128), int32[256];
    # empty for MUL
    input1_table: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False, compare=False)
    input2_table: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False, compare=False)

    @property
    def elementwise(self) -> bool:
        """No broadcasting: both inputs have the output's layout."""
        full = _contiguous_strides(self.out_shape4)
        return self.strides1 == full and self.strides2 == full


def _contiguous_strides(shape4: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    strides, step = [], 1
    for dim in reversed(shape4):
        strides.append(step if dim > 1 else 0)
        step *= dim
    return tuple(reversed(strides))


@dataclass(frozen=True)
class Lookup:
    """An element-wise unary op on int8 input computed as a 256-entry table (index = x + 128)."""

    index: int
    op: str
    input: int
    output: int
    count: int
    table: np.ndarray = field(repr=False)  # int8[256] or float32[256]


@dataclass(frozen=True)
class QuantizeFloat:
    """QUANTIZE float32 -> int8: zero_point + round(x / scale), clamped."""

    index: int
    op: str
    input: int
    output: int
    count: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Softmax:
    index: int
    op: str
    input: int
    output: int
    rows: int
    depth: int
    exp_table: np.ndarray = field(repr=False)  # int32[256]: exp of -(max - x), Q0.31
    max_diff: int  # differences larger than this give 0 (TFLite's diff_min)


@dataclass(frozen=True)
class Pad:
    index: int
    op: str
    input: int
    output: int
    in_shape4: tuple[int, int, int, int]
    before4: tuple[int, int, int, int]
    after4: tuple[int, int, int, int]
    value: int


@dataclass(frozen=True)
class Concatenation:
    index: int
    op: str
    inputs: tuple[Operand, ...]
    output: int
    outer: int
    inner: tuple[int, ...]  # bytes copied per outer step from each input
    act_min: int
    act_max: int


@dataclass(frozen=True)
class Mean:
    """MEAN over a contiguous block of axes: input viewed as [outer, reduce, inner].

    `multiplier`/`shift` rescale the sum of (x - input_zp) to the output: scale ratio and 1/reduce.
    """

    index: int
    op: str
    input: int
    output: int
    outer: int
    reduce: int
    inner: int
    input_zp: int
    output_zp: int
    multiplier: int
    shift: int


@dataclass(frozen=True)
class Alias:
    """RESHAPE / SQUEEZE / EXPAND_DIMS: the output is the input's buffer seen with another shape."""

    index: int
    op: str
    input: int
    output: int


EngineOp = (Conv2D | DepthwiseConv2D | FullyConnected | Pool2D | Binary | Lookup | QuantizeFloat
            | Softmax | Pad | Concatenation | Mean | Alias)


def op_inputs(op) -> tuple[int, ...]:
    """Activation tensor ids read by an op (constants excluded)."""
    if isinstance(op, Binary):
        return tuple(o.tensor for o in (op.input1, op.input2) if not o.is_const)
    if isinstance(op, Concatenation):
        return tuple(o.tensor for o in op.inputs if not o.is_const)
    return (op.input,)


def is_pointwise(op: Conv2D) -> bool:
    """A 1x1 convolution that is an FC per pixel (stride 1, no padding, one group): its input is
    already each pixel's taps, in place."""
    return (op.kernel_hw == (1, 1) and op.stride_hw == (1, 1) and op.groups == 1 and op.pad_tl == (0, 0)
            and op.in_hwc[:2] == op.out_hwc[:2])


def is_pwt(op, packed: PackedWeights | None) -> bool:
    """A clustered pointwise convolution run by edgec_conv2d_pwt_s8 when tiled (rows == 0): tiles of
    pixels copied to scratch, two rows decoded at a time (kernels/edgec_packed_pwt.h)."""
    return (isinstance(op, Conv2D) and packed is not None and packed.format == "clustered"
            and packed.layout == "mask" and is_pointwise(op))


def block_row_bytes(packed: PackedWeights) -> int:
    """block_clustered: one row's stored blocks decoded to int8 (the others read theirs as stored)."""
    return 4 * packed.max_nonzeros if packed.format == "block_clustered" else 0


def packed_conv_scratch(op: Conv2D, packed: PackedWeights, tile: int) -> int:
    """Bytes of scratch edgec_conv2d_packed_s8 uses (its layout, in order; clustered pointwise:
    edgec_conv2d_pwt_s8's, two decoded rows then the tile's input); for the delta layout, edgec_conv2d_delta_s8's: 4 windows of int8 taps,
    none when pointwise; for the block formats, edgec_conv2d_block_s8's: the tile's windows as int16
    (4 a block), then a decoded row (block_clustered)."""
    if packed.layout == "block":
        return tile * 8 * (-(-packed.taps // 4)) + block_row_bytes(packed)
    if packed.layout == "delta":
        if tile == 8:  # edgec_conv2d_delta8_s8: 8 windows, interleaved
            return 8 * packed.taps
        return 0 if is_pointwise(op) else 4 * packed.taps
    runs = op.kernel_hw[0] * op.kernel_hw[1]
    cin = op.in_hwc[2] // op.groups
    taps = runs * cin
    if is_pwt(op, packed):  # edgec_conv2d_pwt_s8: two decoded rows, then the tile's input pixels
        groups = -(-taps // 4)
        return 16 * groups + 4 * groups * tile
    fixed = 8 * tile + 4 * runs + 4 * runs + 4 * tile + 4 * tile + 2 * _a4(tile) + _a4(op.kernel_hw[1] * cin)
    if packed.format == "clustered":
        return fixed + 2 * 2 * _a4(taps)  # two rows, unpacked to int16 on the DSP path
    nz = packed.max_nonzeros
    return fixed + _a4(2 * runs) + 4 * nz


PAIR_PIXELS = 4  # output pixels per group of edgec_conv2d_pairs_s8 (EDGEC_CVP_PIXELS)


def pairs_shape(op: Conv2D) -> bool:
    """The shape edgec_conv2d_pairs_s8 takes: one group, input channels a multiple of 4 (a window's
    groups of 4 taps are 4 input bytes; a row's indices whole bytes)."""
    return op.groups == 1 and op.in_hwc[2] % 4 == 0


def runs_pairs(op: Conv2D) -> bool:
    """Whether op runs on edgec_conv2d_pairs_s8 (its table in flash or built in scratch)."""
    return bool(len(op.pairs) or op.table_in_scratch)


def pairs_conv_scratch(op: Conv2D) -> int:
    """Bytes of scratch edgec_conv2d_pairs_s8 uses: PAIR_PIXELS windows as int16, then the pair table
    (256 words) when built in scratch."""
    return PAIR_PIXELS * 2 * op.kernel_hw[0] * op.kernel_hw[1] * op.in_hwc[2] + 4 * 256 * op.table_in_scratch


def rows16_eligible(op: Conv2D) -> bool:
    """A clustered one-group convolution whose chunks of rows run on edgec_conv2d_rows16_s8 (rows
    decoded as int16 pairs, windows read in place): input channels a multiple of 4, at most 16
    kernel rows (kernels/edgec_packed_pwt.h)."""
    pk = op.packed
    return pk is not None and pk.format == "clustered" and pk.layout == "mask" and rows16_shape(op)


def rows16_shape(op: Conv2D) -> bool:
    """The shape rows16_eligible asks for: one group, input channels a multiple of 4, at most 16
    kernel rows."""
    return op.groups == 1 and op.in_hwc[2] % 4 == 0 and op.kernel_hw[0] <= 16


def rows_conv_scratch(op: Conv2D, rows: int) -> int:
    """Bytes of scratch edgec_conv2d_rows_s8 uses: the dense kernel's im2col columns, then `rows`
    decoded rows (and 3 bytes the dense kernel's word reads may reach past the last);
    edgec_conv2d_rows16_s8's (rows16_eligible, several chunks): the decoded row pairs (int16), then two
    windows."""
    taps = op.kernel_hw[0] * op.kernel_hw[1] * op.in_hwc[2]
    if rows16_eligible(op) and rows < op.out_hwc[2]:
        return -(-rows // 2) * taps * 4 + 2 * taps
    padded = _a4(taps)
    return 4 * padded + (padded if op.in_hwc[2] % 4 else 0) + _a4(rows * taps + 3)


def const_arrays(op) -> list[np.ndarray]:
    """Every constant array an op keeps in flash (weights as stored, biases, multipliers, tables...)."""
    arrays = []
    packed = getattr(op, "packed", None)
    for key, value in vars(op).items():
        if isinstance(value, PackedWeights):
            arrays += value.arrays
        elif isinstance(value, np.ndarray):
            if key == "weights" and packed is not None:
                continue
            arrays.append(op.weights_in_flash if key == "weights" and isinstance(op, Conv2D) else value)
        elif isinstance(value, Requant):
            arrays += [value.multiplier, value.shift]
        elif isinstance(value, Operand) and value.is_const:
            arrays.append(value.const)
        elif isinstance(value, tuple):
            arrays += [v.const for v in value if isinstance(v, Operand) and v.is_const]
    return arrays


@dataclass(frozen=True)
class EngineGraph:
    """The whole model, lowered: ops in execution order and the activation tensors they use."""

    ops: tuple
    tensors: dict = field(repr=False)  # tensor id -> TensorInfo
    input: int
    output: int
    op_names: tuple[str, ...]
