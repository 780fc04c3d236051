"""Where a .tflite flatbuffer ends: the last byte any object reachable from its root occupies.

A flatbuffer has no length field; a builder writes objects back to front, so a well-formed file ends
with the end of one of its objects (or of a buffer stored past the flatbuffer by offset). Bytes
beyond every reachable object are trailing data that no reader of the model would see.

The walk follows the TFLite schema's layout: for each table, the vtable slot of each field that
refers to more bytes (a string, a vector, a sub-table, a union). Union tables (op options,
quantization details) are walked through the generated schema classes' vector accessors.
"""
from __future__ import annotations

import struct

import numpy as np

# table -> {vtable slot: kind}; kinds: "s" string, ("v", element bytes) vector of scalars,
# ("T", table) vector of tables, ("t", table) sub-table, ("u", type slot, union enum) union table,
# ("o", size slot) a uint64 byte offset into the file with its size.
_LAYOUT = {
    "Model": {6: ("T", "OperatorCode"), 8: ("T", "SubGraph"), 10: "s", 12: ("T", "Buffer"), 14: ("v", 4),
              16: ("T", "Metadata"), 18: ("T", "SignatureDef"), 20: ("T", "ExternalBufferGroup"),
              22: ("T", "ExternalBuffer")},
    "OperatorCode": {6: "s"},
    "SubGraph": {4: ("T", "Tensor"), 6: ("v", 4), 8: ("v", 4), 10: ("T", "Operator"), 12: "s"},
    "Tensor": {4: ("v", 4), 10: "s", 12: ("t", "QuantizationParameters"), 16: ("t", "SparsityParameters"),
               18: ("v", 4), 22: ("T", "VariantSubType")},
    "QuantizationParameters": {4: ("v", 4), 6: ("v", 4), 8: ("v", 4), 10: ("v", 8),
                               14: ("u", 12, "QuantizationDetails")},
    "SparsityParameters": {4: ("v", 4), 6: ("v", 4), 8: ("T", "DimensionMetadata")},
    "DimensionMetadata": {10: ("u", 8, "SparseIndexVector"), 14: ("u", 12, "SparseIndexVector")},
    "VariantSubType": {4: ("v", 4)},
    "Operator": {6: ("v", 4), 8: ("v", 4), 12: ("u", 10, "BuiltinOptions"), 14: ("v", 1), 18: ("v", 1),
                 20: ("v", 4), 22: ("o", 24), 28: ("u", 26, "BuiltinOptions2")},
    "Buffer": {4: ("v", 1), 6: ("o", 8)},
    "Metadata": {4: "s"},
    "SignatureDef": {4: ("T", "TensorMap"), 6: ("T", "TensorMap"), 8: "s"},
    "TensorMap": {4: "s"},
    "ExternalBufferGroup": {4: "s"},
    "ExternalBuffer": {8: ("o", 10)},
}
_MAX_OBJECTS = 1 << 22  # a walk past this many objects is a malicious file (shared sub-objects)


class _Walk:
    def __init__(self, data: bytes):
        self.data = data
        self.end = 0
        self.visited = 0
        self.base = np.frombuffer(data, np.uint8).ctypes.data if data else 0

    def _u(self, fmt: str, pos: int) -> int:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise ValueError(f"read of {size} bytes at {pos} past the end of the file")
        self.end = max(self.end, pos + size)
        return struct.unpack_from(fmt, self.data, pos)[0]

    def _reach(self, end: int) -> None:
        if end > len(self.data):
            raise ValueError(f"an object ends at byte {end}, past the end of the file")
        self.end = max(self.end, end)

    def _slot(self, pos: int, vtable: int, vt_len: int, slot: int) -> int:
        """Absolute position of a field, or 0 if absent."""
        if slot >= vt_len:
            return 0
        off = self._u("<H", vtable + slot)
        return pos + off if off else 0

    def _ref(self, at: int) -> int:
        return at + self._u("<I", at)

    def table(self, pos: int, name: str | None) -> None:
        self.visited += 1
        if self.visited > _MAX_OBJECTS:
            raise ValueError("too many objects")
        vtable = pos - self._u("<i", pos)
        vt_len, inline = self._u("<H", vtable), self._u("<H", vtable + 2)
        self._reach(vtable + vt_len)
        self._reach(pos + inline)
        for slot, kind in _LAYOUT.get(name, {}).items():
            at = self._slot(pos, vtable, vt_len, slot)
            if not at:
                continue
            if kind == "s":
                start = self._ref(at)
                self._reach(start + 4 + self._u("<I", start) + 1)
            elif kind[0] == "v":
                start = self._ref(at)
                self._reach(start + 4 + self._u("<I", start) * kind[1])
            elif kind[0] == "T":
                start = self._ref(at)
                for j in range(self._u("<I", start)):
                    item = start + 4 + 4 * j
                    self.table(self._ref(item), kind[1])
            elif kind[0] == "t":
                self.table(self._ref(at), kind[1])
            elif kind[0] == "u":
                type_at = self._slot(pos, vtable, vt_len, kind[1])
                union_type = self._u("<B", type_at) if type_at else 0
                if union_type:
                    self.union(self._ref(at), kind[2], union_type)
            elif kind[0] == "o":
                size_at = self._slot(pos, vtable, vt_len, kind[1])
                offset, size = self._u("<Q", at), (self._u("<Q", size_at) if size_at else 0)
                if offset > 1 and size:
                    self._reach(offset + size)

    def union(self, pos: int, enum: str, union_type: int) -> None:
        """A union member: its table, and the vectors its generated class reads."""
        from toolchain.base.tflite_reader import _schema

        schema = _schema()
        names = {v: k for k, v in vars(getattr(schema, enum)).items() if not k.startswith("_")}
        self.table(pos, None)
        cls = getattr(schema, names.get(union_type, ""), None)
        if cls is None:
            return
        obj = cls()
        obj.Init(self.data, pos)
        for attr in dir(obj):
            if attr.endswith("AsNumpy"):
                arr = getattr(obj, attr)()
                if isinstance(arr, np.ndarray) and arr.size:
                    self._reach(arr.ctypes.data - self.base + arr.nbytes)


def flatbuffer_end(data: bytes) -> int:
    """The end of the last byte reachable from the root of a TFLite flatbuffer (ValueError or
    struct.error on a corrupted one)."""
    walk = _Walk(data)
    walk.table(walk._ref(0), "Model")
    return walk.end
