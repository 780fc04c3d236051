/* nRF51 UART (the legacy peripheral: one byte at a time through the TXD and RXD registers, no
 * EasyDMA): nRF51 Series Reference Manual v3.0, "UART - Universal Asynchronous
 * Receiver/Transmitter". STARTTX and STARTRX start both halves once; each written TXD byte ends
 * with a TXDRDY event, each received byte waits in RXD (with up to five more in the RX FIFO) behind
 * an RXDRDY event, which is cleared before RXD is read so that the next byte's event is not lost.
 * The RXDRDY event raises the UART's interrupt (INTENSET.RXDRDY) until it is cleared.
 * The divisor is the BAUDRATE register value from the manual's table. Pins come from
 * edgec_config.h on a real board; on the emulator (no board set-up) they are left at reset. */
#include "edgec_config.h"
#include "edgec_uart.h"

#define UART_TASKS_STARTRX(b) (*(volatile uint32_t *)((b) + 0x000u))
#define UART_TASKS_STARTTX(b) (*(volatile uint32_t *)((b) + 0x008u))
#define UART_EVENTS_RXDRDY(b) (*(volatile uint32_t *)((b) + 0x108u))
#define UART_EVENTS_TXDRDY(b) (*(volatile uint32_t *)((b) + 0x11Cu))
#define UART_EVENTS_ERROR(b) (*(volatile uint32_t *)((b) + 0x124u))
#define UART_INTENSET(b) (*(volatile uint32_t *)((b) + 0x304u))
#define UART_INTENCLR(b) (*(volatile uint32_t *)((b) + 0x308u))
#define UART_ERRORSRC(b) (*(volatile uint32_t *)((b) + 0x480u)) /* write 1 to clear */
#define UART_ENABLE(b) (*(volatile uint32_t *)((b) + 0x500u))
#define UART_PSELRTS(b) (*(volatile uint32_t *)((b) + 0x508u))
#define UART_PSELTXD(b) (*(volatile uint32_t *)((b) + 0x50Cu))
#define UART_PSELCTS(b) (*(volatile uint32_t *)((b) + 0x510u))
#define UART_PSELRXD(b) (*(volatile uint32_t *)((b) + 0x514u))
#define UART_RXD(b) (*(volatile uint32_t *)((b) + 0x518u))
#define UART_TXD(b) (*(volatile uint32_t *)((b) + 0x51Cu))
#define UART_BAUDRATE(b) (*(volatile uint32_t *)((b) + 0x524u))
#define UART_CONFIG(b) (*(volatile uint32_t *)((b) + 0x56Cu))

#define ENABLE_UART 4u
#define INT_RXDRDY (1u << 2)
#define PSEL_DISCONNECTED 0xFFFFFFFFu
#define CONFIG_8N1 0u /* HWFC = 0, PARITY = 0 (excluded); the nRF51 UART always sends one stop bit */

static uint32_t uart_base;

void edgec_uart_init(uint32_t base, uint32_t divisor)
{
    uart_base = base;
    UART_ENABLE(base) = 0u;
    UART_INTENCLR(base) = 0xFFFFFFFFu;
#ifdef EDGEC_UART_TX_PIN
    UART_PSELTXD(base) = EDGEC_UART_TX_PIN; /* the nRF51 has one GPIO port: the pin number alone */
    UART_PSELRXD(base) = EDGEC_UART_RX_PIN;
#endif
    UART_PSELRTS(base) = PSEL_DISCONNECTED;
    UART_PSELCTS(base) = PSEL_DISCONNECTED;
    UART_BAUDRATE(base) = divisor;
    UART_CONFIG(base) = CONFIG_8N1;
    UART_ENABLE(base) = ENABLE_UART;
    UART_ERRORSRC(base) = 0xFu;
    UART_EVENTS_ERROR(base) = 0u;
    UART_EVENTS_RXDRDY(base) = 0u;
    UART_EVENTS_TXDRDY(base) = 0u;
    UART_TASKS_STARTTX(base) = 1u;
    UART_INTENSET(base) = INT_RXDRDY;
    UART_TASKS_STARTRX(base) = 1u;
}

void edgec_uart_putc(char c)
{
    UART_TXD(uart_base) = (uint8_t)c;
    while (!UART_EVENTS_TXDRDY(uart_base)) { /* the byte has left TXD */
    }
    UART_EVENTS_TXDRDY(uart_base) = 0u;
}

int edgec_uart_rx_drain(void)
{
    if (UART_EVENTS_ERROR(uart_base)) {
        UART_EVENTS_ERROR(uart_base) = 0u;
        UART_ERRORSRC(uart_base) = UART_ERRORSRC(uart_base); /* clear what is set */
    }
    while (UART_EVENTS_RXDRDY(uart_base)) {
        if (!edgec_uart_rx_room()) {
            return 1;
        }
        UART_EVENTS_RXDRDY(uart_base) = 0u;
        edgec_uart_rx_push((uint8_t)(UART_RXD(uart_base) & 0xFFu)); /* a byte left in the FIFO: RXDRDY again */
    }
    return 0;
}
