/* RP2040 start-up, RP2040 datasheet: the bootrom leaves the chip on the ring oscillator (ROSC,
 * about 6 MHz and not accurate); this starts the 12 MHz crystal oscillator (XOSC) and runs clk_ref
 * and clk_peri (so the UART) from it, then clk_sys from PLL_SYS at the profile's clock (FBDIV and
 * the post dividers from edgec_config.h, computed by firmware_export/firmware/clocks.py), or from
 * XOSC when the PLL does not lock within a bounded wait; takes IO_BANK0, PADS_BANK0 and UART0 out of
 * reset and gives the UART pins their function. Boot2 (boot2_rp2040.S) has already put the flash
 * in 03h-read XIP mode at clk_sys / 4 (33 MHz at 133 MHz: a 03h read's limit is 50 MHz). */
#include <stdint.h>

#include "edgec_board.h"
#include "edgec_clock_wait.h"
#include "edgec_config.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* Datasheet "Subsystem Resets", RESETS registers; +0x3000 is the atomic bit-clear alias
 * ("Atomic Register Access") */
#define RESETS_BASE 0x4000C000u
#define RESETS_RESET_CLR REG(RESETS_BASE + 0x3000u + 0x0u)
#define RESETS_RESET_SET REG(RESETS_BASE + 0x2000u + 0x0u)
#define RESET_PLL_SYS (1u << 12)
#define RESETS_RESET_DONE REG(RESETS_BASE + 0x8u)
#define RESET_IO_BANK0 (1u << 5)
#define RESET_PADS_BANK0 (1u << 8)
#define RESET_UART0 (1u << 22)

/* Datasheet "Crystal Oscillator (XOSC)", XOSC registers */
#define XOSC_BASE 0x40024000u
#define XOSC_CTRL REG(XOSC_BASE + 0x00u)
#define XOSC_CTRL_FREQ_RANGE_1_15MHZ 0xAA0u
#define XOSC_CTRL_ENABLE (0xFABu << 12)
#define XOSC_STATUS REG(XOSC_BASE + 0x04u)
#define XOSC_STATUS_STABLE (1u << 31)
#define XOSC_STARTUP REG(XOSC_BASE + 0x0Cu)
#define XOSC_HZ 12000000u
/* In units of 256 crystal cycles: 4 ms, four times what the Pico's crystal needs to start */
#define XOSC_STARTUP_DELAY (4u * ((XOSC_HZ / 1000u + 128u) / 256u))

/* Datasheet "Clocks", CLOCKS registers */
#define CLOCKS_BASE 0x40008000u
#define CLK_REF_CTRL REG(CLOCKS_BASE + 0x30u)
#define CLK_REF_CTRL_SRC_MASK 3u
#define CLK_REF_CTRL_SRC_XOSC 2u /* xosc_clksrc */
#define CLK_REF_DIV REG(CLOCKS_BASE + 0x34u)
#define CLK_REF_SELECTED REG(CLOCKS_BASE + 0x38u) /* one-hot: bit SRC */
#define CLK_SYS_CTRL REG(CLOCKS_BASE + 0x3Cu)
#define CLK_SYS_CTRL_SRC_AUX 1u /* 0: clk_ref */
#define CLK_SYS_CTRL_AUXSRC_MASK (7u << 5) /* 0: clksrc_pll_sys */
#define CLK_SYS_DIV REG(CLOCKS_BASE + 0x40u)
#define CLK_SYS_SELECTED REG(CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL REG(CLOCKS_BASE + 0x48u)
#define CLK_PERI_CTRL_ENABLE (1u << 11)
#define CLK_PERI_CTRL_AUXSRC_XOSC (4u << 5) /* xosc_clksrc */
#define CLK_DIV_1 (1u << 8) /* DIV: INT in bits 31..8 (clk_ref: 9..8) */

/* Datasheet "GPIO": IO_BANK0 GPIOn_CTRL at 8n + 4, PADS_BANK0 GPIOn at 4n + 4 */
#define IO_BANK0_BASE 0x40014000u
#define GPIO_CTRL(n) REG(IO_BANK0_BASE + 8u * (n) + 4u) /* FUNCSEL in bits 4..0, overrides 0 */
#define PADS_BANK0_BASE 0x4001C000u
#define PADS_GPIO(n) REG(PADS_BANK0_BASE + 4u * (n) + 4u)
#define PADS_SCHMITT (1u << 1)
#define PADS_PUE (1u << 3)
#define PADS_DRIVE_4MA (1u << 4)
#define PADS_IE (1u << 6)

/* Datasheet "PLL", PLL_SYS registers */
#define PLL_SYS_BASE 0x40028000u
#define PLL_CS REG(PLL_SYS_BASE + 0x0u)
#define PLL_CS_LOCK (1u << 31)
#define PLL_PWR REG(PLL_SYS_BASE + 0x4u)
#define PLL_PWR_PD (1u << 0)
#define PLL_PWR_POSTDIVPD (1u << 3)
#define PLL_PWR_VCOPD (1u << 5)
#define PLL_FBDIV_INT REG(PLL_SYS_BASE + 0x8u)
#define PLL_PRIM REG(PLL_SYS_BASE + 0xCu)
#define PLL_PRIM_POSTDIV(p1, p2) (((uint32_t)(p1) << 16) | ((uint32_t)(p2) << 12))

#define UART0_BASE 0x40034000u

#if EDGEC_UART_BASE != UART0_BASE
#error "board_rp2040.c sets up UART0 only"
#endif

/* clk_sys from PLL_SYS at EDGEC_CORE_CLOCK_HZ; the clock reached (XOSC's if the PLL does not lock
 * or the switch is not seen). clk_sys runs from clk_ref (XOSC) on entry. */
static uint32_t start_pll(void)
{
    RESETS_RESET_SET = RESET_PLL_SYS;
    RESETS_RESET_CLR = RESET_PLL_SYS;
    if (!edgec_clock_wait(&RESETS_RESET_DONE, RESET_PLL_SYS, RESET_PLL_SYS)) {
        return EDGEC_RESET_CLOCK_HZ;
    }
    PLL_CS = 1u; /* REFDIV = 1: the 12 MHz crystal straight in */
    PLL_FBDIV_INT = EDGEC_CLK_PLL_FBDIV;
    PLL_PWR &= ~(PLL_PWR_PD | PLL_PWR_VCOPD);
    if (!edgec_clock_wait(&PLL_CS, PLL_CS_LOCK, PLL_CS_LOCK)) {
        PLL_PWR |= PLL_PWR_PD | PLL_PWR_VCOPD;
        return EDGEC_RESET_CLOCK_HZ;
    }
    PLL_PRIM = PLL_PRIM_POSTDIV(EDGEC_CLK_PLL_POSTDIV1, EDGEC_CLK_PLL_POSTDIV2);
    PLL_PWR &= ~PLL_PWR_POSTDIVPD;
    /* glitchless: the aux source changes while clk_sys runs from clk_ref, then clk_sys moves to it */
    CLK_SYS_CTRL &= ~CLK_SYS_CTRL_AUXSRC_MASK;
    CLK_SYS_CTRL |= CLK_SYS_CTRL_SRC_AUX;
    if (!edgec_clock_wait(&CLK_SYS_SELECTED, 3u, 2u)) {
        CLK_SYS_CTRL &= ~CLK_SYS_CTRL_SRC_AUX;
        return EDGEC_RESET_CLOCK_HZ;
    }
    return EDGEC_CORE_CLOCK_HZ;
}

uint32_t edgec_board_init(void)
{
    if (!(XOSC_STATUS & XOSC_STATUS_STABLE)) {
        XOSC_CTRL = XOSC_CTRL_FREQ_RANGE_1_15MHZ;
        XOSC_STARTUP = XOSC_STARTUP_DELAY;
        XOSC_CTRL = XOSC_CTRL_FREQ_RANGE_1_15MHZ | XOSC_CTRL_ENABLE;
        while (!(XOSC_STATUS & XOSC_STATUS_STABLE)) {
        }
    }
    /* clk_ref and clk_sys have glitchless muxes: switch, then wait until the switch is seen. */
    CLK_REF_DIV = CLK_DIV_1;
    CLK_REF_CTRL = (CLK_REF_CTRL & ~CLK_REF_CTRL_SRC_MASK) | CLK_REF_CTRL_SRC_XOSC;
    while (CLK_REF_SELECTED != (1u << CLK_REF_CTRL_SRC_XOSC)) {
    }
    CLK_SYS_DIV = CLK_DIV_1;
    CLK_SYS_CTRL &= ~CLK_SYS_CTRL_SRC_AUX; /* clk_sys = clk_ref = XOSC */
    while (CLK_SYS_SELECTED != 1u) {
    }
    /* clk_peri's mux is not glitchless: stop it, let it stop, then choose and start. */
    CLK_PERI_CTRL = 0u;
    for (volatile int i = 0; i < 16; i++) {
    }
    CLK_PERI_CTRL = CLK_PERI_CTRL_AUXSRC_XOSC;
    CLK_PERI_CTRL = CLK_PERI_CTRL_AUXSRC_XOSC | CLK_PERI_CTRL_ENABLE;

    uint32_t reached = start_pll();

    const uint32_t blocks = RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_UART0;
    RESETS_RESET_CLR = blocks;
    while ((RESETS_RESET_DONE & blocks) != blocks) {
    }

    PADS_GPIO(EDGEC_UART_TX_PIN) = PADS_IE | PADS_DRIVE_4MA | PADS_SCHMITT;
    PADS_GPIO(EDGEC_UART_RX_PIN) = PADS_IE | PADS_PUE | PADS_SCHMITT;
    GPIO_CTRL(EDGEC_UART_TX_PIN) = EDGEC_UART_PIN_FUNCTION;
    GPIO_CTRL(EDGEC_UART_RX_PIN) = EDGEC_UART_PIN_FUNCTION;
    return reached;
}
