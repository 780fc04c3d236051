/* RP2040 second-stage boot loader (RP2040 datasheet, "Boot Sequence" and "Flash Second Stage").
 *
 * The bootrom copies the first 252 bytes of flash (+ their CRC32) to 0x20041F00 and runs them
 * there, with the flash not yet readable through XIP. This uses the bootrom's own flash routines
 * (datasheet, "Bootrom Contents", "Flash Access") to put the SSI in plain 03h serial-read XIP
 * mode, which every flash chip supports, then sets SCK to clk_sys / 4 (from the routines' clk_sys / 6):
 * 33 MHz once the firmware runs clk_sys at 133 MHz, within a 03h read's 50 MHz limit (W25Q16JV),
 * and enters the firmware through its vector table at 0x10000100.
 * Assembled on its own for 0x20041F00; edgec pads it and appends the CRC (boot2.py). */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .equ BOOT2_BASE, 0x20041F00         /* where it runs; the stack grows down from here */
    .equ ROM_FUNC_TABLE_PTR, 0x14       /* 16-bit pointer to the function table */
    .equ ROM_TABLE_LOOKUP_PTR, 0x18     /* 16-bit pointer to rom_table_lookup(table, code) */
    .equ CODE_CONNECT_INTERNAL_FLASH, 0x4649  /* 'I' | 'F' << 8 */
    .equ CODE_FLASH_EXIT_XIP, 0x5845          /* 'E' | 'X' << 8 */
    .equ CODE_FLASH_FLUSH_CACHE, 0x4346       /* 'F' | 'C' << 8 */
    .equ CODE_FLASH_ENTER_CMD_XIP, 0x5843     /* 'C' | 'X' << 8 */
    .equ XIP_SSI_BASE, 0x18000000       /* datasheet "SSI" registers */
    .equ SSI_SSIENR, 0x08
    .equ SSI_BAUDR, 0x14
    .equ SCK_DIVIDER, 4                 /* even, at least 2: clk_sys / 4 */
    .equ FLASH_VECTORS, 0x10000100      /* the firmware's vector table, after these 256 bytes */
    .equ PPB_VTOR, 0xE000ED08

    .section .text
    .global edgec_boot2_entry
    .type edgec_boot2_entry, %function
    .thumb_func
edgec_boot2_entry:
    ldr r0, =BOOT2_BASE
    mov sp, r0
    movs r0, #ROM_FUNC_TABLE_PTR
    ldrh r4, [r0]                       /* r4: the bootrom's function table */
    movs r0, #ROM_TABLE_LOOKUP_PTR
    ldrh r5, [r0]                       /* r5: rom_table_lookup */
    movs r0, #1
    orrs r5, r0                         /* a Thumb address */

    ldr r1, =CODE_CONNECT_INTERNAL_FLASH
    bl call_rom
    ldr r1, =CODE_FLASH_EXIT_XIP
    bl call_rom
    ldr r1, =CODE_FLASH_FLUSH_CACHE     /* XIP cache on, chip-select forcing released */
    bl call_rom
    ldr r1, =CODE_FLASH_ENTER_CMD_XIP   /* SSI: 03h read, 24 address bits, on every XIP access */
    bl call_rom

    ldr r0, =XIP_SSI_BASE               /* BAUDR can only change while the SSI is disabled */
    movs r1, #0
    str r1, [r0, #SSI_SSIENR]
    movs r1, #SCK_DIVIDER
    str r1, [r0, #SSI_BAUDR]
    movs r1, #1
    str r1, [r0, #SSI_SSIENR]

    ldr r0, =FLASH_VECTORS
    ldr r1, =PPB_VTOR
    str r0, [r1]
    ldmia r0, {r0, r1}                  /* initial stack pointer, reset handler */
    msr msp, r0
    bx r1

/* Look up the bootrom function whose code is in r1 and call it without arguments. */
    .type call_rom, %function
    .thumb_func
call_rom:
    push {lr}
    mov r0, r4
    blx r5                              /* r0 = rom_table_lookup(function table, code) */
    movs r1, #1
    orrs r0, r1
    blx r0
    pop {pc}

    .ltorg
