"""UF2 (the USB Flashing Format of Microsoft's UF2 bootloaders, used by the RP2040 and others).

A UF2 file is a sequence of 512-byte blocks, each carrying up to 476 bytes (here 256) of payload
with its flash address, its block number and the total, and optionally a chip family ID.
"""
from __future__ import annotations

import struct

MAGIC_START0 = 0x0A324655  # "UF2\n"
MAGIC_START1 = 0x9E5D5157
MAGIC_END = 0x0AB16F30
FLAG_FAMILY_ID_PRESENT = 0x00002000
BLOCK_BYTES = 512
PAYLOAD_BYTES = 256
_DATA_FIELD_BYTES = 476


def bin_to_uf2(data: bytes, base_address: int, family_id: int | None = None) -> bytes:
    """Wrap a flat binary that starts at `base_address` into UF2 blocks of 256 payload bytes."""
    if base_address % PAYLOAD_BYTES:
        raise ValueError(f"base address 0x{base_address:x} is not {PAYLOAD_BYTES}-byte aligned")
    count = (len(data) + PAYLOAD_BYTES - 1) // PAYLOAD_BYTES
    flags = FLAG_FAMILY_ID_PRESENT if family_id is not None else 0
    blocks = []
    for i in range(count):
        chunk = data[i * PAYLOAD_BYTES:(i + 1) * PAYLOAD_BYTES]
        chunk = chunk + bytes(PAYLOAD_BYTES - len(chunk))
        header = struct.pack("<8I", MAGIC_START0, MAGIC_START1, flags, base_address + i * PAYLOAD_BYTES,
                             PAYLOAD_BYTES, i, count, family_id or 0)
        blocks.append(header + chunk + bytes(_DATA_FIELD_BYTES - PAYLOAD_BYTES) + struct.pack("<I", MAGIC_END))
    return b"".join(blocks)


def parse_uf2(blob: bytes) -> list[tuple[int, bytes, int]]:
    """(address, payload, family_id) of each block; raises ValueError on a malformed file."""
    if len(blob) % BLOCK_BYTES:
        raise ValueError("a UF2 file is a whole number of 512-byte blocks")
    out = []
    for off in range(0, len(blob), BLOCK_BYTES):
        block = blob[off:off + BLOCK_BYTES]
        m0, m1, flags, addr, size, _no, _count, family = struct.unpack_from("<8I", block)
        (end,) = struct.unpack_from("<I", block, BLOCK_BYTES - 4)
        if (m0, m1, end) != (MAGIC_START0, MAGIC_START1, MAGIC_END) or size > _DATA_FIELD_BYTES:
            raise ValueError(f"block at offset {off} is not a UF2 block")
        out.append((addr, block[32:32 + size], family if flags & FLAG_FAMILY_ID_PRESENT else None))
    return out

