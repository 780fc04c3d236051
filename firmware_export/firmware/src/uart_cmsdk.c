/* Arm CMSDK APB UART (MPS2 / MPS3 FPGA images, SSE-200/300 subsystems): one byte of buffer each
 * way. The receive interrupt (CTRL.RXINTEN) stays raised until INTCLEAR clears it; it is cleared
 * just before the byte is read, so the next byte raises it again. */
#include "edgec_uart.h"

#define CMSDK_DATA(b) (*(volatile uint32_t *)((b) + 0x00u))
#define CMSDK_STATE(b) (*(volatile uint32_t *)((b) + 0x04u))
#define CMSDK_CTRL(b) (*(volatile uint32_t *)((b) + 0x08u))
#define CMSDK_INTCLEAR(b) (*(volatile uint32_t *)((b) + 0x0Cu)) /* INTSTATUS when read */
#define CMSDK_BAUDDIV(b) (*(volatile uint32_t *)((b) + 0x10u))

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u
#define CTRL_TX_EN 0x1u
#define CTRL_RX_EN 0x2u
#define CTRL_RX_INTEN 0x8u
#define STATE_RX_OVERRUN 0x8u /* write 1 to clear */
#define INT_RX 0x2u
#define INT_RX_OVERRUN 0x8u

static uint32_t uart_base;

void edgec_uart_init(uint32_t base, uint32_t divisor)
{
    uart_base = base;
    CMSDK_CTRL(base) = 0u;
    CMSDK_BAUDDIV(base) = divisor; /* clock / baud, at least 16 */
    CMSDK_STATE(base) = STATE_RX_OVERRUN;
    CMSDK_INTCLEAR(base) = INT_RX | INT_RX_OVERRUN;
    CMSDK_CTRL(base) = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INTEN;
}

void edgec_uart_putc(char c)
{
    while (CMSDK_STATE(uart_base) & STATE_TX_FULL) {
    }
    CMSDK_DATA(uart_base) = (uint8_t)c;
}

int edgec_uart_rx_drain(void)
{
    while (CMSDK_STATE(uart_base) & STATE_RX_FULL) {
        if (!edgec_uart_rx_room()) {
            return 1;
        }
        CMSDK_INTCLEAR(uart_base) = INT_RX;
        edgec_uart_rx_push((uint8_t)(CMSDK_DATA(uart_base) & 0xFFu));
    }
    return 0;
}
