/* Arm PrimeCell UART PL011 (RP2040 UART0/1: RP2040 datasheet, "UART"; TI Stellaris UARTs; PL011
 * TRM r1p5, "Register descriptions"). The divisor is IBRD << 6 | FBRD as edgec computed it from
 * UARTCLK (round(4 * UARTCLK / baud)). The board set-up has clocked the UART and routed its pins.
 * The receive (RXIM: the FIFO reached its trigger level) and receive-timeout (RTIM: bytes below
 * that level, the line idle) interrupts both end when the FIFO has been read empty. */
#include "edgec_uart.h"

#define UART_DR(b) (*(volatile uint32_t *)((b) + 0x000u))
#define UART_RSR_ECR(b) (*(volatile uint32_t *)((b) + 0x004u)) /* read: RSR, write: ECR (clears) */
#define UART_FR(b) (*(volatile uint32_t *)((b) + 0x018u))
#define UART_IBRD(b) (*(volatile uint32_t *)((b) + 0x024u))
#define UART_FBRD(b) (*(volatile uint32_t *)((b) + 0x028u))
#define UART_LCR_H(b) (*(volatile uint32_t *)((b) + 0x02Cu))
#define UART_CR(b) (*(volatile uint32_t *)((b) + 0x030u))
#define UART_IFLS(b) (*(volatile uint32_t *)((b) + 0x034u))
#define UART_IMSC(b) (*(volatile uint32_t *)((b) + 0x038u))
#define UART_ICR(b) (*(volatile uint32_t *)((b) + 0x044u))

#define DR_FE (1u << 8) /* framing error */
#define DR_PE (1u << 9) /* parity error */
#define DR_BE (1u << 10) /* break */
#define FR_RXFE (1u << 4) /* receive FIFO empty */
#define FR_TXFF (1u << 5) /* transmit FIFO full */
#define LCR_H_FEN (1u << 4) /* FIFOs on */
#define LCR_H_WLEN_8 (3u << 5) /* 8 data bits (PEN = 0: no parity, STP2 = 0: 1 stop bit) */
#define CR_UARTEN (1u << 0)
#define CR_TXE (1u << 8)
#define CR_RXE (1u << 9)
#define INT_RX (1u << 4)
#define INT_RT (1u << 6)
#define IFLS_RX_HALF (2u << 3) /* receive interrupt at 1/2 full; the timeout takes the rest */

static uint32_t uart_base;

void edgec_uart_init(uint32_t base, uint32_t divisor)
{
    uart_base = base;
    UART_CR(base) = 0u; /* disabled while it is programmed */
    UART_IMSC(base) = 0u;
    UART_IBRD(base) = divisor >> 6;
    UART_FBRD(base) = divisor & 0x3Fu;
    UART_LCR_H(base) = LCR_H_WLEN_8 | LCR_H_FEN; /* this write latches IBRD and FBRD */
    UART_RSR_ECR(base) = 0u;
    UART_IFLS(base) = IFLS_RX_HALF;
    UART_ICR(base) = 0x7FFu;
    UART_IMSC(base) = INT_RX | INT_RT;
    UART_CR(base) = CR_UARTEN | CR_TXE | CR_RXE;
}

void edgec_uart_putc(char c)
{
    while (UART_FR(uart_base) & FR_TXFF) {
    }
    UART_DR(uart_base) = (uint8_t)c;
}

int edgec_uart_rx_drain(void)
{
    while (!(UART_FR(uart_base) & FR_RXFE)) {
        if (!edgec_uart_rx_room()) {
            return 1;
        }
        uint32_t dr = UART_DR(uart_base);
        if (dr & (DR_FE | DR_PE | DR_BE)) {
            UART_RSR_ECR(uart_base) = 0u; /* a damaged byte is dropped; an overrun (OE) keeps this one */
        } else {
            edgec_uart_rx_push((uint8_t)(dr & 0xFFu));
        }
    }
    UART_ICR(uart_base) = INT_RT; /* read empty: the timeout ends too */
    return 0;
}
