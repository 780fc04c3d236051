/* STM32 USART and LPUART, the newer register layout (F7, H7, L4, L4+, G4...): separate ISR, ICR,
 * RDR and TDR. RM0385 (F7) "USART registers", RM0433 (H7) "USART registers", RM0432 (L4+)
 * "USART registers" and "LPUART registers": the offsets and bits used here are the same in all.
 * The divisor is BRR as edgec computed it: fck / baud for a USART (16x oversampling, OVER8 = 0),
 * 256 * fck / baud for an LPUART. The board set-up has clocked the UART and routed its pins.
 * RXNEIE raises the interrupt while RXNE or ORE is set: reading RDR clears RXNE, ICR the errors. */
#include "edgec_uart.h"

#define USART_CR1(b) (*(volatile uint32_t *)((b) + 0x00u))
#define USART_CR2(b) (*(volatile uint32_t *)((b) + 0x04u))
#define USART_CR3(b) (*(volatile uint32_t *)((b) + 0x08u))
#define USART_BRR(b) (*(volatile uint32_t *)((b) + 0x0Cu))
#define USART_ISR(b) (*(volatile uint32_t *)((b) + 0x1Cu))
#define USART_ICR(b) (*(volatile uint32_t *)((b) + 0x20u))
#define USART_RDR(b) (*(volatile uint32_t *)((b) + 0x24u))
#define USART_TDR(b) (*(volatile uint32_t *)((b) + 0x28u))

/* CR1 (M0 = M1 = 0: 8 data bits; PCE = 0: no parity; OVER8 = 0; FIFOEN = 0 where it exists) */
#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
/* ISR (named RXNE_RXFNE and TXE_TXFNF on the H7: the same bits with the FIFO off) */
#define ISR_FE (1u << 1)
#define ISR_NF (1u << 2)
#define ISR_ORE (1u << 3)
#define ISR_RXNE (1u << 5)
#define ISR_TXE (1u << 7)
/* ICR: write 1 to clear the matching ISR flag */
#define ICR_FECF (1u << 1)
#define ICR_NECF (1u << 2)
#define ICR_ORECF (1u << 3)

static uint32_t uart_base;

void edgec_uart_init(uint32_t base, uint32_t divisor)
{
    uart_base = base;
    USART_CR1(base) = 0u; /* UE = 0: the other registers may be written */
    USART_CR2(base) = 0u; /* 1 stop bit */
    USART_CR3(base) = 0u; /* no flow control, no DMA */
    USART_BRR(base) = divisor;
    USART_ICR(base) = ICR_FECF | ICR_NECF | ICR_ORECF;
    USART_CR1(base) = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
}

void edgec_uart_putc(char c)
{
    while (!(USART_ISR(uart_base) & ISR_TXE)) {
    }
    USART_TDR(uart_base) = (uint8_t)c;
}

int edgec_uart_rx_drain(void)
{
    for (;;) {
        uint32_t isr = USART_ISR(uart_base);
        if (isr & (ISR_FE | ISR_NF | ISR_ORE)) {
            /* an overrun lost a byte; a framing error or noise marks one: the protocol's resync
             * handles the damage, the flags only need clearing */
            USART_ICR(uart_base) = ICR_FECF | ICR_NECF | ICR_ORECF;
        }
        if (!(isr & ISR_RXNE)) {
            return 0;
        }
        if (!edgec_uart_rx_room()) {
            return 1;
        }
        edgec_uart_rx_push((uint8_t)(USART_RDR(uart_base) & 0xFFu));
    }
}
