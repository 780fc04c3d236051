/* nRF52 UARTE (UART with EasyDMA): nRF52840 Product Specification, "UARTE - Universal
 * asynchronous receiver/transmitter with EasyDMA". EasyDMA moves bytes between the UARTE and RAM
 * (it cannot read flash), so each byte goes through a one-byte buffer in RAM: TX starts a one-byte
 * transfer and the next one waits for its ENDTX; RX keeps a one-byte transfer armed and re-arms it
 * after each ENDRX (bytes arriving meanwhile wait in the UARTE's RX FIFO). The divisor is the
 * BAUDRATE register value from the PS's table. Pins come from edgec_config.h. The ENDRX event
 * raises the UARTE's interrupt (INTENSET.ENDRX) until it is cleared. */
#include "edgec_config.h"
#include "edgec_uart.h"

#define UARTE_TASKS_STARTRX(b) (*(volatile uint32_t *)((b) + 0x000u))
#define UARTE_TASKS_STARTTX(b) (*(volatile uint32_t *)((b) + 0x008u))
#define UARTE_EVENTS_ENDRX(b) (*(volatile uint32_t *)((b) + 0x110u))
#define UARTE_EVENTS_ENDTX(b) (*(volatile uint32_t *)((b) + 0x120u))
#define UARTE_EVENTS_ERROR(b) (*(volatile uint32_t *)((b) + 0x124u))
#define UARTE_SHORTS(b) (*(volatile uint32_t *)((b) + 0x200u))
#define UARTE_INTENSET(b) (*(volatile uint32_t *)((b) + 0x304u))
#define UARTE_INTENCLR(b) (*(volatile uint32_t *)((b) + 0x308u))
#define UARTE_ERRORSRC(b) (*(volatile uint32_t *)((b) + 0x480u)) /* write 1 to clear */
#define UARTE_ENABLE(b) (*(volatile uint32_t *)((b) + 0x500u))
#define UARTE_PSEL_RTS(b) (*(volatile uint32_t *)((b) + 0x508u))
#define UARTE_PSEL_TXD(b) (*(volatile uint32_t *)((b) + 0x50Cu))
#define UARTE_PSEL_CTS(b) (*(volatile uint32_t *)((b) + 0x510u))
#define UARTE_PSEL_RXD(b) (*(volatile uint32_t *)((b) + 0x514u))
#define UARTE_BAUDRATE(b) (*(volatile uint32_t *)((b) + 0x524u))
#define UARTE_RXD_PTR(b) (*(volatile uint32_t *)((b) + 0x534u))
#define UARTE_RXD_MAXCNT(b) (*(volatile uint32_t *)((b) + 0x538u))
#define UARTE_TXD_PTR(b) (*(volatile uint32_t *)((b) + 0x544u))
#define UARTE_TXD_MAXCNT(b) (*(volatile uint32_t *)((b) + 0x548u))
#define UARTE_CONFIG(b) (*(volatile uint32_t *)((b) + 0x56Cu))

#define ENABLE_UARTE 8u
#define INT_ENDRX (1u << 4)
#define PSEL_DISCONNECTED (1u << 31)
#define PSEL(port, pin) (((uint32_t)(port) << 5) | (uint32_t)(pin)) /* CONNECT (bit 31) = 0 */
#define CONFIG_8N1 0u /* HWFC = 0, PARITY = 0 (excluded), STOP = 0 (one stop bit) */

static uint32_t uart_base;
static volatile uint8_t rx_byte;
static volatile uint8_t tx_byte;
static int tx_started;

static void dma_barrier(void)
{
    __asm volatile("dsb" ::: "memory");
}

void edgec_uart_init(uint32_t base, uint32_t divisor)
{
    uart_base = base;
    UARTE_ENABLE(base) = 0u; /* PSEL and CONFIG may only change while disabled */
    UARTE_INTENCLR(base) = 0xFFFFFFFFu;
    UARTE_SHORTS(base) = 0u;
    UARTE_PSEL_TXD(base) = PSEL(EDGEC_UART_TX_PORT, EDGEC_UART_TX_PIN);
    UARTE_PSEL_RXD(base) = PSEL(EDGEC_UART_RX_PORT, EDGEC_UART_RX_PIN);
    UARTE_PSEL_RTS(base) = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS(base) = PSEL_DISCONNECTED;
    UARTE_BAUDRATE(base) = divisor;
    UARTE_CONFIG(base) = CONFIG_8N1;
    UARTE_ENABLE(base) = ENABLE_UARTE;
    UARTE_ERRORSRC(base) = 0xFu;
    UARTE_EVENTS_ERROR(base) = 0u;
    UARTE_EVENTS_ENDRX(base) = 0u;
    UARTE_EVENTS_ENDTX(base) = 0u;
    UARTE_RXD_PTR(base) = (uint32_t)(uintptr_t)&rx_byte;
    UARTE_RXD_MAXCNT(base) = 1u;
    tx_started = 0;
    UARTE_INTENSET(base) = INT_ENDRX;
    dma_barrier();
    UARTE_TASKS_STARTRX(base) = 1u;
}

void edgec_uart_putc(char c)
{
    if (tx_started) {
        while (!UARTE_EVENTS_ENDTX(uart_base)) { /* the previous byte has left tx_byte */
        }
    }
    UARTE_EVENTS_ENDTX(uart_base) = 0u;
    tx_byte = (uint8_t)c;
    UARTE_TXD_PTR(uart_base) = (uint32_t)(uintptr_t)&tx_byte;
    UARTE_TXD_MAXCNT(uart_base) = 1u;
    dma_barrier();
    UARTE_TASKS_STARTTX(uart_base) = 1u;
    tx_started = 1;
}

int edgec_uart_rx_drain(void)
{
    if (UARTE_EVENTS_ERROR(uart_base)) {
        UARTE_EVENTS_ERROR(uart_base) = 0u;
        UARTE_ERRORSRC(uart_base) = UARTE_ERRORSRC(uart_base); /* clear what is set */
    }
    if (!UARTE_EVENTS_ENDRX(uart_base)) {
        return 0;
    }
    if (!edgec_uart_rx_room()) {
        return 1;
    }
    UARTE_EVENTS_ENDRX(uart_base) = 0u;
    dma_barrier();
    edgec_uart_rx_push(rx_byte); /* ENDRX: EasyDMA has written it */
    UARTE_TASKS_STARTRX(uart_base) = 1u; /* RXD.PTR and MAXCNT are kept: re-arm for the next byte */
    return 0;
}
