"""The firmware's flash and SRAM split by what the bytes are for, from the linker map: the parts add
up to the ELF's figures exactly, on every emulated and real target."""
from __future__ import annotations

import re

import pytest
from elftools.elf.elffile import ELFFile

import targets
from firmware_export.firmware.mapfile import category, parse_map, split_usage

MAP = """\
Memory Configuration

Linker script and memory map

LOAD fw/harness.o

.vectors        0x00000000       0x40
 *(.vectors)
 .vectors       0x00000000       0x40 fw/startup.o
                0x00000000                edgec_vectors

.text           0x00000040       0x30
 .text.edgec_conv2d_s8
                0x00000040       0x20 engine/edgec_conv.o
                0x00000040                edgec_conv2d_s8
 *fill*         0x00000060        0x4 
 .text.memcpy   0x00000064        0xc /usr/lib/libc_nano.a(lib_a-memcpy.o)

.rodata         0x00000080       0x14
 .rodata.op0_weights
                0x00000080       0x10 engine/tiny.o
 .rodata.hex.0  0x00000090        0x4 fw/harness.o

.data           0x20000000        0x8 load address 0x00000094
                0x20000000                        __data_start = .
 .data.state    0x20000000        0x5 fw/harness.o
                0x20000008                        . = ALIGN (0x4)

.bss            0x20000008       0x10 load address 0x0000009c
 .bss.tiny_arena
                0x20000008       0x10 engine/tiny.o

.stack          0x20000018      0x100 load address 0x0000009c
                0x20000018                        __stack_limit = .
 *fill*         0x20000018      0x100 

.ARM.attributes
                0x00000000       0x2e
 .ARM.attributes
                0x00000000       0x2e fw/harness.o
"""
ALLOCATED = {".vectors": True, ".text": True, ".rodata": True, ".data": True, ".bss": False, ".stack": False}


def test_parse_reads_sections_pieces_fills_and_load_addresses():
    sections = {s.name: s for s in parse_map(MAP)}
    assert list(sections) == [".vectors", ".text", ".rodata", ".data", ".bss", ".stack", ".ARM.attributes"]
    text = sections[".text"]
    assert (text.address, text.size, text.load_address) == (0x40, 0x30, None)
    assert [(p.section, p.address, p.size, p.obj) for p in text.pieces] == [
        (".text.edgec_conv2d_s8", 0x40, 0x20, "engine/edgec_conv.o"), ("*fill*", 0x60, 4, ""),
        (".text.memcpy", 0x64, 0xC, "/usr/lib/libc_nano.a(lib_a-memcpy.o)")]
    assert sections[".data"].load_address == 0x94
    assert [p.section for p in sections[".rodata"].pieces] == [".rodata.op0_weights", ".rodata.hex.0"]
    assert sections[".ARM.attributes"].size == 0x2E


def test_split_of_a_small_map_counts_every_byte():
    split = split_usage(parse_map(MAP), ALLOCATED, targets.load_target("cortex-m7"))
    # flash 0..0x9c: vectors 0x40, conv 0x20, fill 4, memcpy 0xc, gap 0x70..0x80 (16), weights 0x10,
    # harness 4, .data image 8 (5 harness + 3 align)
    assert dict(split.flash) == {"start-up": 0x40, "engine": 0x20, "C library": 0xC, "weights": 0x10,
                                 "harness": 4 + 5, "padding": 4 + 16 + 3}
    assert sum(n for _, n in split.flash) == 0x9C
    assert dict(split.sram) == {"harness": 5, "padding": 3, "engine": 0x10, "stack": 0x100}


@pytest.mark.parametrize(("obj", "section", "want"), [
    ("engine/tiny.o", ".rodata.op12_bias", "weights"), ("engine/tiny.o", ".rodata.tiny_op_names", "engine"),
    ("engine/edgec_conv.o", ".text.edgec_conv2d_s8", "engine"), ("fw/startup.o", ".text.Reset_Handler", "start-up"),
    ("fw/boot2_image.o", ".boot2", "start-up"), ("fw/uart_pl011.o", ".text.edgec_uart_init", "harness"),
    ("/usr/lib/gcc/arm-none-eabi/12/libgcc.a(_udivmoddi4.o)", ".text", "C library"),
])
def test_category(obj, section, want):
    assert category(obj, section, ".text") == want


def _weights_in_symbols(elf_path) -> int:
    """The generated engine's per-op constant arrays, as the ELF's symbol table sizes them."""
    with open(elf_path, "rb") as fh:
        symtab = ELFFile(fh).get_section_by_name(".symtab")
        return sum(s["st_size"] for s in symtab.iter_symbols()
                   if s["st_info"]["type"] == "STT_OBJECT" and re.fullmatch(r"op\d+_\w+", s.name))


def _check(fw) -> None:
    flash, sram = dict(fw.split.flash), dict(fw.split.sram)
    assert sum(flash.values()) == fw.flash_used_bytes
    assert sum(sram.values()) == fw.sram_used_bytes
    assert sram["stack"] == fw.stack_bytes  # the ELF's .stack section
    assert flash["weights"] == _weights_in_symbols(fw.elf)
    assert flash["engine"] > 0 and flash["harness"] > 0 and flash["start-up"] > 0 and sram["engine"] > 0
    assert "other" not in flash and "other" not in sram  # every object is known by its name


def test_emulated_firmware_split_adds_up_to_the_elf(tiny_firmware):
    for fw in tiny_firmware.values():
        _check(fw)


def _functions(elf_path) -> set[str]:
    with open(elf_path, "rb") as fh:
        table = ELFFile(fh).get_section_by_name(".symtab")
        return {sym.name for sym in table.iter_symbols() if sym["st_info"]["type"] == "STT_FUNC"}


def test_firmware_links_only_the_kernels_its_layers_use(tiny_firmware):
    # the tiny model: a one-group convolution, a max pool, a fully connected layer (narrow rescale,
    # no activation). The DSP path's kernel is picked at each call site from the generated constants.
    m7 = _functions(tiny_firmware["cortex-m7"].elf)
    assert {"edgec_conv2d_s8_im2col", "edgec_maxpool_s8"} <= m7
    assert not {"edgec_conv2d_s8_strided", "edgec_avgpool_s8"} & m7  # the grouped path, the other pooling
    assert len({f for f in m7 if f.startswith("edgec_fully_connected_")}) == 1
    m0 = _functions(tiny_firmware["cortex-m0plus"].elf)  # no DSP: the general convolution
    assert {"edgec_conv2d_s8_strided", "edgec_fully_connected_general_s8"} <= m0
    for fw in tiny_firmware.values():  # the harness prints its numbers without libgcc's 64-bit division
        assert not {"__udivmoddi4", "__aeabi_uldivmod", "__aeabi_ldivmod"} & _functions(fw.elf)


def test_real_board_firmware_split_adds_up_to_the_elf(boards):
    for fw in boards.values():
        _check(fw)
    assert dict(boards["rp2040-pico"].split.flash)["start-up"] >= 256  # the second stage boot loader


@pytest.fixture(scope="module")
def boards():
    from tests.conftest import require_tool
    from tests.firmware_export.firmware.test_boards import _builds

    require_tool("arm-none-eabi-gcc")
    return _builds()
