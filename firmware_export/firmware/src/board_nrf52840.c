/* nRF52840 start-up, nRF52840 Product Specification: the CPU runs at 64 MHz whatever the HFCLK
 * source; the firmware starts the 32 MHz crystal oscillator (HFXO) so that the UARTE's baud rate
 * and the cycle counter's time base are crystal-accurate instead of the internal RC's. UARTE pins
 * are set in GPIO as the UARTE chapter asks (TXD: output, high; RXD: input); the UARTE selects
 * them itself (PSEL, in uart_nrf_uarte.c). */
#include <stdint.h>

#include "edgec_board.h"
#include "edgec_config.h"

/* PS "Memory map" / "CLOCK - Clock control" */
#define CLOCK_BASE 0x40000000u
#define CLOCK_TASKS_HFCLKSTART (*(volatile uint32_t *)(CLOCK_BASE + 0x000u))
#define CLOCK_EVENTS_HFCLKSTARTED (*(volatile uint32_t *)(CLOCK_BASE + 0x100u))

/* PS "GPIO - General purpose input/output": P0 at 0x50000000, P1 at 0x50000300 */
#define GPIO_PORT_BASE(n) (0x50000000u + 0x300u * (n))
#define GPIO_OUTSET(p) (*(volatile uint32_t *)((p) + 0x508u))
#define GPIO_PIN_CNF(p, pin) (*(volatile uint32_t *)((p) + 0x700u + 4u * (pin)))
#define PIN_CNF_DIR_OUTPUT (1u << 0)
#define PIN_CNF_INPUT_DISCONNECT (1u << 1)
#define PIN_CNF_PULL_UP (3u << 2)

#define UARTE0_BASE 0x40002000u

#if EDGEC_UART_BASE != UARTE0_BASE
#error "board_nrf52840.c sets up UARTE0 only"
#endif

uint32_t edgec_board_init(void)
{
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    while (!CLOCK_EVENTS_HFCLKSTARTED) {
    }
    CLOCK_EVENTS_HFCLKSTARTED = 0u;

    GPIO_OUTSET(GPIO_PORT_BASE(EDGEC_UART_TX_PORT)) = 1u << EDGEC_UART_TX_PIN;
    GPIO_PIN_CNF(GPIO_PORT_BASE(EDGEC_UART_TX_PORT), EDGEC_UART_TX_PIN) = PIN_CNF_DIR_OUTPUT | PIN_CNF_INPUT_DISCONNECT;
    GPIO_PIN_CNF(GPIO_PORT_BASE(EDGEC_UART_RX_PORT), EDGEC_UART_RX_PIN) = PIN_CNF_PULL_UP; /* input, connected */
    return EDGEC_CORE_CLOCK_HZ;
}
