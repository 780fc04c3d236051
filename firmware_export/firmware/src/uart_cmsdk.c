/* Arm CMSDK APB UART (MPS2 / MPS3 FPGA images, SSE-200/300 subsystems). */
#include "edgec_uart.h"

#define CMSDK_DATA(b) (*(volatile uint32_t *)((b) + 0x00u))
#define CMSDK_STATE(b) (*(volatile uint32_t *)((b) + 0x04u))
#define CMSDK_CTRL(b) (*(volatile uint32_t *)((b) + 0x08u))
#define CMSDK_BAUDDIV(b) (*(volatile uint32_t *)((b) + 0x10u))

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u
#define CTRL_TX_EN 0x1u
#define CTRL_RX_EN 0x2u

static uint32_t uart_base;

void edgec_uart_init(uint32_t base, uint32_t clock_hz, uint32_t baud)
{
    uart_base = base;
    CMSDK_CTRL(base) = 0u;
    CMSDK_BAUDDIV(base) = clock_hz / baud; /* must be >= 16 */
    CMSDK_CTRL(base) = CTRL_TX_EN | CTRL_RX_EN;
}

void edgec_uart_putc(char c)
{
    while (CMSDK_STATE(uart_base) & STATE_TX_FULL) {
    }
    CMSDK_DATA(uart_base) = (uint8_t)c;
}

int edgec_uart_getc(void)
{
    if (!(CMSDK_STATE(uart_base) & STATE_RX_FULL)) {
        return -1;
    }
    return (int)(CMSDK_DATA(uart_base) & 0xFFu);
}
