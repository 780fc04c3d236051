/* STM32 USART, the F1/F2/F4 register layout (SR, DR, BRR, CR1 at 0x00..0x0C). RXNEIE raises the
 * interrupt while RXNE (or ORE) is set; reading SR then DR clears both.
 * Clocks and pins are the board's: the reset configuration must already route them. */
#include "edgec_uart.h"

#define USART_SR(b) (*(volatile uint32_t *)((b) + 0x00u))
#define USART_DR(b) (*(volatile uint32_t *)((b) + 0x04u))
#define USART_BRR(b) (*(volatile uint32_t *)((b) + 0x08u))
#define USART_CR1(b) (*(volatile uint32_t *)((b) + 0x0Cu))
#define USART_CR2(b) (*(volatile uint32_t *)((b) + 0x10u))
#define USART_CR3(b) (*(volatile uint32_t *)((b) + 0x14u))

#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define SR_ORE (1u << 3)
#define CR1_RE (1u << 2)
#define CR1_RXNEIE (1u << 5)
#define CR1_TE (1u << 3)
#define CR1_UE (1u << 13)

static uint32_t uart_base;

void edgec_uart_init(uint32_t base, uint32_t divisor)
{
    uart_base = base;
    USART_CR1(base) = 0u;
    USART_CR2(base) = 0u; /* 1 stop bit */
    USART_CR3(base) = 0u; /* no flow control */
    /* 16x oversampling: BRR holds the divider fck / baud as 12.4 fixed point, rounded. */
    USART_BRR(base) = divisor;
    USART_CR1(base) = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE; /* 8 data bits, no parity */
}

void edgec_uart_putc(char c)
{
    while (!(USART_SR(uart_base) & SR_TXE)) {
    }
    USART_DR(uart_base) = (uint8_t)c;
}

int edgec_uart_rx_drain(void)
{
    for (;;) {
        uint32_t sr = USART_SR(uart_base);
        if (!(sr & (SR_RXNE | SR_ORE))) {
            return 0;
        }
        if (!edgec_uart_rx_room()) {
            return 1;
        }
        uint8_t c = (uint8_t)(USART_DR(uart_base) & 0xFFu); /* SR then DR: clears RXNE and ORE */
        if (sr & SR_RXNE) {
            edgec_uart_rx_push(c);
        }
    }
}
