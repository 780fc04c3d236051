"""Write the engine as C text: the model source and header from templates, plus kernel files.

Deterministic by construction: no timestamps or absolute paths, fixed values per line, ops in
execution order, kernel files sorted. Float constants are written as C99 hexadecimal literals,
which are exact.
"""
from __future__ import annotations

import dataclasses
import string
from dataclasses import asdict, dataclass
from importlib import resources

import numpy as np

from .ops import (Alias, Binary, Concatenation, Conv2D, DepthwiseConv2D, EngineGraph, FullyConnected,
                  Lookup, Mean, Operand, Pad, Pool2D, QuantizeFloat, Softmax, is_pwt,
                  rows16_eligible, runs_pairs)
from . import dwblocks, dwcolpack, dwcols, dwlayout, dwpairs
from .planner import MemoryPlan

VALUES_PER_LINE = {"int8_t": 16, "uint8_t": 16, "int32_t": 8, "float": 4}



def _flash_table(p: str, words: np.ndarray, decls: list[str]) -> str:
    """The C name of an op's pair table (fcpairs.table) in flash on DSP builds, its array appended to
    decls (builds without DSP get NULL); "NULL" when the op has none in flash."""
    if not len(words):
        return "NULL"
    table = f"{p.upper()}_PAIRS"
    decls += ["#if defined(EDGEC_DSP)", c_array("int32_t", f"{p}_pairs", words, align=4),
              f"#define {table} {p}_pairs", "#else", f"#define {table} NULL", "#endif"]
    return table

def c_identifier(name: str) -> str:
    """A valid, lowercase C identifier derived from a name (the same rule as the TFLM C array)."""
    from firmware_export.c_array import c_identifier as identifier

    return identifier(name).lower()


def c_float(value: float) -> str:
    """An exact C float literal (hexadecimal) of a float32 value."""
    v = float(np.float32(value))
    return f"{v.hex()}f" if v != 0.0 else "0.0f"


def _format_value(ctype: str, v) -> str:
    return c_float(v) if ctype == "float" else str(int(v))


def c_array(ctype: str, name: str, values: np.ndarray, align: int = 0) -> str:
    values = np.asarray(values).reshape(-1)
    per_line = VALUES_PER_LINE[ctype]
    attr = f" EDGEC_ALIGN({align})" if align else ""
    lines = [f"static const {ctype} {name}[{len(values)}]{attr} = {{"]
    for i in range(0, len(values), per_line):
        lines.append("    " + ", ".join(_format_value(ctype, v) for v in values[i:i + per_line]) + ",")
    lines.append("};")
    return "\n".join(lines)


def _struct(ctype: str, name: str, fields: list[str]) -> str:
    body = ",\n".join("    " + f for f in fields)
    return f"static const {ctype} {name} = {{\n{body},\n}};"


def _ints(*values) -> str:
    return ", ".join(str(int(v)) for v in values)


@dataclass(frozen=True)
class OpCode:
    """The C of one op: its const data, its call statement, the kernel files it needs."""

    decls: str
    call: str
    kernels: tuple[str, ...]
    hooked: bool = False  # the call runs EDGEC_AFTER_OP itself (a patched stage, patch.py)


# each packed kernel's files: what all share (edgec_packed), its own, and its dense kernel's params
_PACKED_CONV = ("edgec_conv", "edgec_packed", "edgec_packed_conv")
_PACKED_ROWS = ("edgec_conv", "edgec_packed", "edgec_packed_convr")
_PACKED_PWT = ("edgec_conv", "edgec_packed", "edgec_packed_pwt")
_PACKED_CVP = ("edgec_conv", "edgec_packed", "edgec_packed_cvp")
_PACKED_DELTA = ("edgec_conv", "edgec_packed", "edgec_packed_pw")
_PACKED_DELTA8 = ("edgec_conv", "edgec_packed", "edgec_packed_pw8")
_PACKED_DW = ("edgec_dwconv", "edgec_packed", "edgec_packed_dw")
_PACKED_DWU = ("edgec_dwconv", "edgec_packed", "edgec_packed_dwu")
_PACKED_DWG = ("edgec_dwconv", "edgec_packed", "edgec_packed_dwg")
_PACKED_DWC = ("edgec_dwconv", "edgec_dwcol", "edgec_packed", "edgec_packed_dwc")
_PACKED_DWP = _PACKED_DWG + ("edgec_dwpair", "edgec_packed_dwp")
_PACKED_DWS = ("edgec_dwconv", "edgec_packed", "edgec_packed_dws")
_PACKED_DWB = ("edgec_dwconv", "edgec_packed", "edgec_packed_dwb")
_PACKED_FC = ("edgec_fc", "edgec_packed", "edgec_packed_fc")
_PACKED_FCP = _PACKED_FC + ("edgec_packed_fcp",)
_PACKED_BLOCK = ("edgec_conv", "edgec_fc", "edgec_packed", "edgec_packed_blk")


def _weights_name(p: str, op) -> str:
    return "NULL" if op.packed is not None else f"{p}_weights"


class _Pointers:
    def __init__(self, graph: EngineGraph, plan: MemoryPlan, scratch: str = "NULL", packed_scratch: str = "NULL",
                 prefix: str = "EDGEC"):
        self.graph, self.plan, self.scratch, self.packed_scratch = graph, plan, scratch, packed_scratch
        self.prefix = prefix
        self._scratch_at = {id(op): plan.scratch_offsets[k] for k, op in enumerate(graph.ops)
                            if k in plan.scratch_offsets}
        self._reversed = {id(op) for k, op in enumerate(graph.ops) if k in plan.reversed_ops}

    def reversed(self, op) -> bool:
        """The op runs row by row from its last row (its output above its input, inplace.reverse_lag)."""
        return id(op) in self._reversed

    def im2col(self, op) -> str:
        """A dense convolution's im2col scratch (used on the DSP path only)."""
        if not op.scratch_bytes:
            return "NULL"
        at = self._scratch_at.get(id(op))
        return self.scratch if at is None else f"{self.prefix}_IM2COL({at})"

    def packed(self, op) -> str:
        """A packed layer's scratch (decoded weights, gathered windows), as int32_t *."""
        at = self._scratch_at.get(id(op))
        return self.packed_scratch if at is None else f"{self.prefix}_SCRATCH_AT({at})"

    def __call__(self, tensor: int, const: bool = False) -> str:
        if tensor in self.plan.caller_tensors:
            return "input"  # the caller's buffer, already of the input's C type (const)
        dtype = self.graph.tensors[tensor].dtype
        base = f"arena + {self.plan.tensor_offsets[tensor]}"
        if dtype == "float32":
            return f"({'const ' if const else ''}float *)(void *)({base})"
        return base


def _operand(ptr: _Pointers, operand: Operand, name: str, decls: list[str]) -> str:
    if operand.is_const:
        decls.append(c_array("int8_t", name, operand.const, align=4))
        return name
    return ptr(operand.tensor, const=True)


def _mac_arrays(p: str, weights, bias, requant) -> list[str]:
    dense = [] if weights is None else [c_array("int8_t", f"{p}_weights", weights, align=4)]
    return dense + [c_array("int32_t", f"{p}_bias", bias),
            c_array("int32_t", f"{p}_multiplier", requant.multiplier),
            c_array("int8_t", f"{p}_shift", requant.shift)]


def _packed_decls(p: str, op, decls: list[str]) -> None:
    """The arrays and the edgec_packed struct `{p}_packed` of an op's packed weights."""
    pk = op.packed
    names = []
    for suffix, ctype, values in (("mask", "uint8_t", pk.mask), ("values", "uint8_t", pk.values),
                                  ("codebook", "int8_t", pk.codebook)):
        if len(values):
            decls.append(c_array(ctype, f"{p}_{suffix}", values, align=4))
            names.append(f"{p}_{suffix}")
        else:
            names.append("NULL")
    decls.append(_struct("edgec_packed", f"{p}_packed", [
        _ints(pk.code, pk.rows, pk.taps), ", ".join(names),
        _ints(pk.index_bits, pk.clusters, pk.shared, pk.max_nonzeros)]))


def _mac_decls(p: str, op, weights) -> list[str]:
    """Weights (dense) or the packed arrays, then bias, multiplier, shift."""
    decls: list[str] = []
    if op.packed is None:
        decls += _mac_arrays(p, weights, op.bias, op.requant)
        return decls
    _packed_decls(p, op, decls)
    decls += _mac_arrays(p, None, op.bias, op.requant)
    return decls


def _fields(fields: list[str]) -> str:
    return ",\n".join("    " + f for f in fields)


def conv_params_struct(p: str, op: Conv2D) -> str:
    """The fields of an op's edgec_conv_params (its arrays named `{p}_*`)."""
    rq = op.requant
    return _fields([
        f"{_weights_name(p, op)}, {p}_bias, {p}_multiplier, {p}_shift",
        _ints(op.batches, *op.in_hwc, *op.out_hwc),
        _ints(*op.kernel_hw, *op.stride_hw, *op.dilation_hw, *op.pad_tl),
        _ints(op.groups, op.input_zp, rq.output_zp, rq.act_min, rq.act_max), _ints(rq.narrow)])


def depthwise_params_struct(p: str, op: DepthwiseConv2D) -> str:
    """The fields of an op's edgec_dwconv_params; with the DSP layout (dwlayout.py), the arrays by
    the macros of depthwise_decls."""
    rq = op.requant
    layout = dwlayout.eligible(op) or dwblocks.eligible(op)
    arrays = f"{p.upper()}_ARRAYS" if layout else f"{_weights_name(p, op)}, {p}_bias, {p}_multiplier, {p}_shift"
    return _fields([
        arrays,
        _ints(op.batches, *op.in_hwc, *op.out_hwc),
        _ints(*op.kernel_hw, *op.stride_hw, *op.dilation_hw, *op.pad_tl),
        _ints(op.depth_multiplier, op.input_zp, rq.output_zp, rq.act_min, rq.act_max), _ints(rq.narrow),
        f"{p.upper()}_DSP" if layout else "NULL"])


def depthwise_decls(p: str, op: DepthwiseConv2D) -> list[str]:
    """The constant arrays of a depthwise op. With the DSP layout (dwlayout.eligible), DSP builds
    keep the layout alone and the others the int8 weights, biases, multipliers and shifts: the
    macros {P}_ARRAYS and {P}_DSP name what the build keeps (NULL for the rest)."""
    dense = _mac_decls(p, op, op.weights)
    P = p.upper()
    if dwblocks.eligible(op):  # DSP builds: the tap lists and the layout (no int8 values)
        pk = op.packed
        return ["#if defined(EDGEC_DSP)", c_array("uint8_t", f"{p}_mask", pk.mask, align=4),
                c_array("int32_t", f"{p}_dsp", dwblocks.layout(op), align=4),
                _struct("edgec_packed", f"{p}_packed", [_ints(pk.code, pk.rows, pk.taps), f"{p}_mask, NULL, NULL",
                                                        _ints(pk.index_bits, pk.clusters, pk.shared, pk.max_nonzeros)]),
                f"#define {P}_ARRAYS NULL, NULL, NULL, NULL", f"#define {P}_DSP {p}_dsp", "#else", *dense,
                f"#define {P}_ARRAYS NULL, {p}_bias, {p}_multiplier, {p}_shift", f"#define {P}_DSP NULL",
                "#endif"]
    if not dwlayout.eligible(op):
        return dense
    words = dwpairs.layout(op) if dwpairs.eligible(op) else dwlayout.layout(op)  # a column: by pairs of taps
    return ["#if defined(EDGEC_DSP)", c_array("int32_t", f"{p}_dsp", words, align=4),
            f"#define {P}_ARRAYS NULL, NULL, NULL, NULL", f"#define {P}_DSP {p}_dsp", "#else", *dense,
            f"#define {P}_ARRAYS {p}_weights, {p}_bias, {p}_multiplier, {p}_shift", f"#define {P}_DSP NULL",
            "#endif"]


def pool_params_struct(op: Pool2D) -> str:
    return _fields([
        _ints(op.batches, *op.in_hwc[:2], op.in_hwc[2], *op.out_hwc[:2]),
        _ints(*op.kernel_hw, *op.stride_hw, *op.pad_tl),
        _ints(op.act_min, op.act_max)])


def emit_conv(op: Conv2D, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    decls = _mac_decls(p, op, op.weights_in_flash if op.packed is None else None)
    decls.append(f"static const edgec_conv_params {p}_params = {{\n{conv_params_struct(p, op)},\n}};")
    if op.packed is not None:
        if op.packed.layout == "block":  # tiles of 1, 2 or 4 pixels, their windows as int16 in scratch
            return OpCode("\n".join(decls), f"edgec_conv2d_block_s8(&{p}_params, &{p}_packed, {op.tile}, "
                          f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_BLOCK)
        if op.packed.layout == "delta":  # tiles of 4 pixels (4 windows of scratch, none if pointwise) or 8
            windows = f"(int8_t *)(void *){ptr.packed(op)}" if op.scratch_bytes else "NULL"
            kernel, files = ("edgec_conv2d_delta8_s8", _PACKED_DELTA8) if op.tile == 8 else \
                ("edgec_conv2d_delta_s8", _PACKED_DELTA)
            return OpCode("\n".join(decls), f"{kernel}(&{p}_params, &{p}_packed, "
                          f"{ptr(op.input)}, {ptr(op.output)}, {windows});", files)
        if runs_pairs(op):  # groups of 4 pixels gathered as int16, each byte of indices one word of the table
            table = _flash_table(p, op.pairs, decls)  # NULL: built in scratch on DSP builds, the others decode
            return OpCode("\n".join(decls), f"edgec_conv2d_pairs_s8(&{p}_params, &{p}_packed, {table}, "
                          f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_CVP)
        if 0 < op.rows < op.out_hwc[2] and rows16_eligible(op):  # chunks decoded as int16, windows in place
            return OpCode("\n".join(decls), f"edgec_conv2d_rows16_s8(&{p}_params, &{p}_packed, {op.rows}, "
                          f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_PWT)
        if op.rows:  # chunks of rows decoded once, each run by the dense kernel over every pixel
            return OpCode("\n".join(decls), f"edgec_conv2d_rows_s8(&{p}_params, &{p}_packed, {op.rows}, "
                          f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_ROWS)
        if is_pwt(op, op.packed):  # clustered pointwise: tiles of pixels copied to scratch, rows decoded per tile
            table = _flash_table(p, op.pwt_pairs, decls)
            return OpCode("\n".join(decls), f"edgec_conv2d_pwt_s8(&{p}_params, &{p}_packed, {table}, {op.tile}, "
                          f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_PWT)
        return OpCode("\n".join(decls), f"edgec_conv2d_packed_s8(&{p}_params, &{p}_packed, {op.tile}, "
                      f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_CONV)
    if ptr.reversed(op):  # one row per call, last row first: the output sits above its input
        h, w, cin = op.in_hwc
        row = dataclasses.replace(op, in_hwc=(1, w, cin), out_hwc=(1, w, op.out_hwc[2]))
        decls[-1] = f"static const edgec_conv_params {p}_params = {{\n{conv_params_struct(p, row)},\n}};"
        return OpCode("\n".join(decls),
                      f"for (int32_t row = {h - 1}; row >= 0; row--) {{ /* output above input: last row first */\n"
                      f"        edgec_conv2d_s8(&{p}_params, {ptr(op.input)} + row * {w * cin}, "
                      f"{ptr(op.output)} + row * {w * op.out_hwc[2]}, {ptr.im2col(op)});\n    }}",
                      ("edgec_conv",))
    return OpCode("\n".join(decls),
                  f"edgec_conv2d_s8(&{p}_params, {ptr(op.input)}, {ptr(op.output)}, {ptr.im2col(op)});",
                  ("edgec_conv",))


def emit_columns(op: DepthwiseConv2D, ptr: _Pointers) -> OpCode:
    """A column layer one channel at a time on DSP builds (dwcols.py): its records, one function per
    shift among its channels (EDGEC_DWCOL<taps>), one call of each; the other builds the dense arrays
    and the generic kernel."""
    p, P = f"op{op.index}", f"op{op.index}".upper()
    taps, channels, outputs = op.kernel_hw[0], op.out_hwc[2], op.out_hwc[0]
    shifts = dwcols.shifts(op)
    names = [f"{ptr.prefix.lower()}_{p}_col{s.e}" for s in shifts]
    decls = ["#if defined(EDGEC_DSP)", c_array("int32_t", f"{p}_dsp", dwcols.layout(op), align=4),
             *(f"EDGEC_DWCOL{taps}({n}, {channels}, {s.e}, {outputs})" for n, s in zip(names, shifts)),
             "#else", *_mac_decls(p, op, op.weights),
             f"#define {P}_ARRAYS {p}_weights, {p}_bias, {p}_multiplier, {p}_shift", f"#define {P}_DSP NULL",
             f"static const edgec_dwconv_params {p}_params = {{\n{depthwise_params_struct(p, op)},\n}};",
             "#endif"]
    x, y = ptr(op.input), ptr(op.output)
    w = dwcols.WORDS
    calls = [f"    {n}({x}, {y}, {p}_dsp + {w * s.first}, {p}_dsp + {w * (s.first + s.count)});"
             for n, s in zip(names, shifts)]
    call = "\n".join(["#if defined(EDGEC_DSP)", *calls, "#else", f"    edgec_dwconv2d_s8(&{p}_params, {x}, {y});",
                      "#endif"])
    return OpCode("\n".join(decls), call.removeprefix("    "), ("edgec_dwcol", "edgec_dwconv"))


def emit_packed_columns(op: DepthwiseConv2D, ptr: _Pointers) -> OpCode:
    """A clustered column layer in chunks of op.columns channels (dwcolpack.py): the packed weights, the
    channels' words in flash, the shifts; on DSP builds the layer's function of each shift (as
    emit_columns), on the others none (edgec_dwconv2d_dwc_s8 runs the records in C)."""
    p, P = f"op{op.index}", f"op{op.index}".upper()
    taps, channels, outputs = op.kernel_hw[0], op.out_hwc[2], op.out_hwc[0]
    shifts = dwcolpack.shifts(op)
    names = [f"{ptr.prefix.lower()}_{p}_col{s.e}" for s in shifts]
    decls: list[str] = []
    _packed_decls(p, op, decls)
    decls += [c_array("int32_t", f"{p}_records", dwcolpack.records(op), align=4),
              c_array("uint8_t", f"{p}_ends", [s.first + s.count for s in shifts]),
              c_array("uint8_t", f"{p}_shifts", [s.e for s in shifts]),
              "#if defined(EDGEC_DSP)",
              *(f"EDGEC_DWCOL{taps}({n}, {channels}, {s.e}, {outputs})" for n, s in zip(names, shifts)),
              f"static const edgec_dwc_fn {p}_fns[{len(shifts)}] = {{{', '.join(names)}}};",
              f"#define {P}_FNS {p}_fns", "#else", f"#define {P}_FNS NULL", "#endif",
              _struct("edgec_dwc_params", f"{p}_cols", [f"{p}_records, {P}_FNS, {p}_ends, {p}_shifts",
                                                        _ints(len(shifts), channels, taps, outputs)])]
    return OpCode("\n".join(decls), f"edgec_dwconv2d_dwc_s8(&{p}_cols, &{p}_packed, {op.columns}, "
                  f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_DWC)


def emit_depthwise(op: DepthwiseConv2D, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    if op.packed is not None and op.columns:  # a clustered column layer on the column kernel
        return emit_packed_columns(op, ptr)
    if dwcols.eligible(op):
        return emit_columns(op, ptr)
    decls = depthwise_decls(p, op)
    decls.append(f"static const edgec_dwconv_params {p}_params = {{\n{depthwise_params_struct(p, op)},\n}};")
    if op.packed is not None and op.packed.layout == "fixed":  # sparse rows read as stored, no scratch
        return OpCode("\n".join(decls), f"edgec_dwconv2d_sparse_s8(&{p}_params, &{p}_packed, "
                      f"{ptr(op.input)}, {ptr(op.output)});", _PACKED_DWS)
    if op.packed is not None and op.packed.layout == "dw_block":  # kept taps of groups of 4, as stored
        return OpCode("\n".join(decls), f"edgec_dwconv2d_dwblock_s8(&{p}_params, &{p}_packed, "
                      f"{ptr(op.input)}, {ptr(op.output)});", _PACKED_DWB)
    if op.packed is not None and op.chunk and op.pair_layout:  # chunks decoded into the pair layout
        return OpCode("\n".join(decls), f"edgec_dwconv2d_dwp_s8(&{p}_params, &{p}_packed, {op.chunk}, "
                      f"{dwpairs.groups_entry(op)}, {ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});",
                      _PACKED_DWP)
    if op.packed is not None and op.chunk:  # chunks of channel groups decoded into the DSP layout
        return OpCode("\n".join(decls), f"edgec_dwconv2d_dwg_s8(&{p}_params, &{p}_packed, {op.chunk}, "
                      f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_DWG)
    if op.packed is not None and op.tile == 0:  # decoded once into scratch, run by the dense kernel
        return OpCode("\n".join(decls), f"edgec_dwconv2d_unpacked_s8(&{p}_params, &{p}_packed, "
                      f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_DWU)
    if op.packed is not None:
        return OpCode("\n".join(decls), f"edgec_dwconv2d_packed_s8(&{p}_params, &{p}_packed, {op.tile}, "
                      f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_DW)
    return OpCode("\n".join(decls), f"{depthwise_entry(op)}(&{p}_params, {ptr(op.input)}, {ptr(op.output)});",
                  ("edgec_dwconv", "edgec_dwpair") if dwpairs.eligible(op) else ("edgec_dwconv",))


def depthwise_entry(op: DepthwiseConv2D) -> str:
    """The kernel a dense depthwise op calls: with the DSP layout, its own entry (edgec_dwconv.h), so
    that a firmware whose depthwise layers all have the layout does not link the generic code."""
    if dwpairs.eligible(op):  # a column layer by pairs of taps (edgec_dwpair.h)
        return dwpairs.entry(op)
    return "edgec_dwconv2d_layout_s8" if dwlayout.eligible(op) else "edgec_dwconv2d_s8"


def emit_fully_connected(op: FullyConnected, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    rq = op.requant
    decls = _mac_decls(p, op, op.weights)
    decls.append(_struct("edgec_fc_params", f"{p}_params", [
        f"{_weights_name(p, op)}, {p}_bias, {p}_multiplier, {p}_shift",
        _ints(op.batches, op.in_features, op.out_features, len(rq.multiplier) > 1),
        _ints(rq.output_zp, rq.act_min, rq.act_max, rq.narrow)]))
    if op.packed is not None and op.packed.layout == "block":
        scratch = ptr.packed(op) if op.scratch_bytes else "NULL"
        return OpCode("\n".join(decls), f"edgec_fully_connected_block_s8(&{p}_params, &{p}_packed, "
                      f"{ptr(op.input)}, {ptr(op.output)}, {scratch});", _PACKED_BLOCK)
    if op.packed is not None and (len(op.pairs) or op.table_in_scratch):  # the input as int16 in scratch
        table = _flash_table(p, op.pairs, decls)  # NULL: built in scratch
        return OpCode("\n".join(decls), f"edgec_fully_connected_pairs_s8(&{p}_params, &{p}_packed, {table}, "
                      f"{ptr(op.input)}, {ptr(op.output)}, {ptr.packed(op)});", _PACKED_FCP)
    if op.packed is not None:
        return OpCode("\n".join(decls), f"edgec_fully_connected_packed_s8(&{p}_params, &{p}_packed, "
                      f"{ptr(op.input)}, {ptr(op.output)});", _PACKED_FC)
    return OpCode("\n".join(decls),
                  f"edgec_fully_connected_s8(&{p}_params, {ptr(op.input)}, {ptr(op.output)});", ("edgec_fc",))


def emit_pool(op: Pool2D, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    decl = f"static const edgec_pool_params {p}_params = {{\n{pool_params_struct(op)},\n}};"
    fn = "edgec_avgpool_s8" if op.op == "AVERAGE_POOL_2D" else "edgec_maxpool_s8"
    return OpCode(decl, f"{fn}(&{p}_params, {ptr(op.input)}, {ptr(op.output)});", ("edgec_pool",))


def emit_binary(op: Binary, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    decls: list[str] = []
    a = _operand(ptr, op.input1, f"{p}_input1", decls)
    b = _operand(ptr, op.input2, f"{p}_input2", decls)
    tables = "NULL, NULL"
    if len(op.input1_table):
        decls += [c_array("int32_t", f"{p}_table1", op.input1_table), c_array("int32_t", f"{p}_table2", op.input2_table)]
        tables = f"{p}_table1, {p}_table2"
    decls.append(f"static const edgec_binary_params {p}_params = {{\n{binary_params_struct(op, tables)},\n}};")
    return OpCode("\n".join(decls), f"{BINARY_FUNCTIONS[op.op]}(&{p}_params, {a}, {b}, {ptr(op.output)});",
                  ("edgec_binary",))


BINARY_FUNCTIONS = {"ADD": "edgec_add_s8", "SUB": "edgec_sub_s8", "MUL": "edgec_mul_s8"}


def binary_params_struct(op: Binary, tables: str) -> str:
    """The fields of an op's edgec_binary_params (`tables`: its two table names, or "NULL, NULL")."""
    return _fields([
        tables, "{" + _ints(*op.out_shape4) + "}", "{" + _ints(*op.strides1) + "}", "{" + _ints(*op.strides2) + "}",
        _ints(op.elementwise, op.input1_offset, op.input2_offset, op.output_offset),
        _ints(op.left_shift, op.input1_multiplier, op.input1_shift, op.input2_multiplier, op.input2_shift),
        _ints(op.output_multiplier, op.output_shift, op.act_min, op.act_max, op.narrow)])


def emit_lookup(op: Lookup, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    if op.table.dtype == np.float32:
        decl = c_array("float", f"{p}_table", op.table)
        call = f"edgec_lut_f32({p}_table, {ptr(op.input)}, {ptr(op.output)}, {op.count});"
    else:
        decl = c_array("int8_t", f"{p}_table", op.table)
        call = f"edgec_lut_s8({p}_table, {ptr(op.input)}, {ptr(op.output)}, {op.count});"
    return OpCode(decl, call, ("edgec_lut",))


def emit_quantize(op: QuantizeFloat, ptr: _Pointers) -> OpCode:
    call = (f"edgec_quantize_f32_s8({ptr(op.input, const=True)}, {ptr(op.output)}, {op.count}, "
            f"{c_float(op.scale)}, {op.zero_point});")
    return OpCode("", call, ("edgec_quantize",))


def emit_softmax(op: Softmax, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    decls = [c_array("int32_t", f"{p}_exp", op.exp_table),
             _struct("edgec_softmax_params", f"{p}_params", [f"{p}_exp", _ints(op.max_diff, op.rows, op.depth)])]
    return OpCode("\n".join(decls), f"edgec_softmax_s8(&{p}_params, {ptr(op.input)}, {ptr(op.output)});",
                  ("edgec_softmax",))


def emit_pad(op: Pad, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    decl = _struct("edgec_pad_params", f"{p}_params", [
        "{" + _ints(*op.in_shape4) + "}", "{" + _ints(*op.before4) + "}", "{" + _ints(*op.after4) + "}",
        str(op.value)])
    return OpCode(decl, f"edgec_pad_s8(&{p}_params, {ptr(op.input)}, {ptr(op.output)});", ("edgec_copy",))


def emit_concatenation(op: Concatenation, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    decls: list[str] = []
    calls, offset, stride = [], 0, sum(op.inner)
    for i, (operand, inner) in enumerate(zip(op.inputs, op.inner)):
        src = _operand(ptr, operand, f"{p}_input{i}", decls)
        calls.append(f"edgec_copy_rows({ptr(op.output)} + {offset}, {src}, {op.outer}, {inner}, {stride});")
        offset += inner
    return OpCode("\n".join(decls), "\n    ".join(calls), ("edgec_copy",))


def emit_mean(op: Mean, ptr: _Pointers) -> OpCode:
    p = f"op{op.index}"
    decl = _struct("edgec_mean_params", f"{p}_params", [
        _ints(op.outer, op.reduce, op.inner), _ints(op.input_zp, op.output_zp, op.multiplier, op.shift)])
    return OpCode(decl, f"edgec_mean_s8(&{p}_params, {ptr(op.input)}, {ptr(op.output)});", ("edgec_mean",))


def emit_alias(op: Alias, ptr: _Pointers) -> OpCode:
    return OpCode("", f"/* {op.op}: output aliases the input buffer */", ())


EMITTERS = {
    Conv2D: emit_conv, DepthwiseConv2D: emit_depthwise, FullyConnected: emit_fully_connected,
    Pool2D: emit_pool, Binary: emit_binary, Lookup: emit_lookup, QuantizeFloat: emit_quantize,
    Softmax: emit_softmax, Pad: emit_pad, Concatenation: emit_concatenation, Mean: emit_mean,
    Alias: emit_alias,
}


def emit_op(op, ptr: _Pointers) -> OpCode:
    return EMITTERS[type(op)](op, ptr)


@dataclass(frozen=True)
class HeaderContext:
    """Exactly the fields that templates/model.h.tmpl uses."""

    name: str
    NAME: str
    source: str
    input_bytes: int
    output_bytes: int
    input_count: int
    output_count: int
    input_is_float: int
    output_is_float: int
    arena_bytes: int
    num_ops: int
    input_type: str
    output_type: str


@dataclass(frozen=True)
class SourceContext:
    """Exactly the fields that templates/model.c.tmpl uses."""

    name: str
    NAME: str
    source: str
    num_ops: int
    arena_bytes: int
    plan_summary: str
    kernel_includes: str
    op_data: str
    op_names: str
    op_calls: str
    input_rank: int
    input_dims: str
    output_rank: int
    output_dims: str
    input_scale: str
    input_zero_point: int
    output_scale: str
    output_zero_point: int
    input_type: str
    output_type: str
    output_source: str
    scratch_decl: str


@dataclass(frozen=True)
class HostContext:
    """Exactly the fields that templates/host_main.c.tmpl uses."""

    name: str
    NAME: str


def scratch_decl(name: str, scratch_bytes: int, packed_bytes: int = 0, in_arena: int = 0) -> str:
    """The kernels' scratch buffer, 4-byte aligned, and the macros that name it: the im2col columns
    (DSP path only) and the decoded packed weights (every path; packed_bytes of it). `in_arena`:
    the number of ops whose scratch the planner put in the arena instead (at an offset per op)."""
    upper = name.upper()
    if in_arena:
        return (f"/* kernel scratch planned in the arena, per op ({in_arena} ops): im2col columns (DSP path), "
                f"decoded packed weights. */\n"
                f"#define {upper}_SCRATCH_AT(offset) ((int32_t *)(void *)(arena + (offset)))\n"
                f"#if defined(EDGEC_DSP)\n#define {upper}_IM2COL(offset) {upper}_SCRATCH_AT(offset)\n"
                f"#else\n#define {upper}_IM2COL(offset) NULL\n#endif\n")
    if not scratch_bytes:
        return ""
    if packed_bytes:
        return (f"/* im2col columns (DSP path) and decoded packed weights: {scratch_bytes} bytes. */\n"
                f"static int32_t {name}_scratch[{scratch_bytes // 4}];\n"
                f"#if defined(EDGEC_DSP)\n#define {upper}_SCRATCH {name}_scratch\n"
                f"#else\n#define {upper}_SCRATCH NULL\n#endif\n"
                f"#define {upper}_PACKED_SCRATCH {name}_scratch\n")
    return (f"/* im2col columns of the convolutions (DSP path): {scratch_bytes} bytes. */\n"
            f"#if defined(EDGEC_DSP)\n"
            f"static int32_t {name}_scratch[{scratch_bytes // 4}];\n"
            f"#define {upper}_SCRATCH {name}_scratch\n"
            f"#else\n#define {upper}_SCRATCH NULL\n#endif\n")


def template_text(filename: str) -> str:
    return resources.files(__package__).joinpath("templates", filename).read_text(encoding="utf-8")


def kernel_text(filename: str) -> str:
    return resources.files(__package__).joinpath("kernels", filename).read_text(encoding="utf-8")


def fill(filename: str, context) -> str:
    return string.Template(template_text(filename)).substitute(asdict(context))


def template_fields(filename: str) -> set[str]:
    """The placeholders a template uses (for the test that they match its context)."""
    pattern = string.Template.pattern
    return {m.group("named") or m.group("braced") for m in pattern.finditer(template_text(filename))
            if m.group("named") or m.group("braced")}
