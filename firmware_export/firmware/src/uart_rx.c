/* Interrupt-driven receive for every UART driver: the UART's interrupt (EDGEC_UART_IRQ) calls the
 * driver's drain, which moves received bytes into a ring; the main loop takes them out, and sleeps
 * with WFI while the ring is empty.
 *
 * The wait is race-free: interrupts are masked (PRIMASK) while the ring is checked and WFI is
 * entered; a byte arriving in between leaves its interrupt pending, which ends WFI at once, and the
 * handler runs when interrupts are unmasked. Before sleeping the drain also runs once by hand, so
 * a byte whose interrupt the UART dropped is not left waiting.
 *
 * When the ring is full the handler masks the UART's NVIC line (its interrupt stays pending in the
 * UART) and the main loop unmasks it once it has taken a byte: the UART holds what does not fit, and
 * an emulator's serial back end waits, as it did when the firmware polled. */
#include "edgec_config.h"
#include "edgec_cortexm.h"
#include "edgec_uart.h"

#define RX_RING_BYTES 256u /* a power of two: the indices run freely and wrap */

static volatile uint8_t ring[RX_RING_BYTES];
static volatile uint32_t ring_head; /* bytes pushed: written by the drain */
static volatile uint32_t ring_tail; /* bytes taken: written by edgec_uart_getc */
static volatile int rx_masked; /* the UART's NVIC line is masked because the ring was full */

uint32_t edgec_uart_rx_room(void)
{
    return RX_RING_BYTES - (ring_head - ring_tail);
}

void edgec_uart_rx_push(uint8_t c)
{
    ring[ring_head % RX_RING_BYTES] = c;
    ring_head = ring_head + 1u;
}

void edgec_uart_irq_handler(void)
{
    if (edgec_uart_rx_drain()) {
        NVIC_ICER(EDGEC_UART_IRQ) = NVIC_BIT(EDGEC_UART_IRQ);
        rx_masked = 1;
    }
}

void edgec_uart_rx_start(void)
{
    ring_head = 0u;
    ring_tail = 0u;
    rx_masked = 0;
    NVIC_ISER(EDGEC_UART_IRQ) = NVIC_BIT(EDGEC_UART_IRQ);
}

int edgec_uart_getc(void)
{
    for (;;) {
        edgec_irq_disable();
        if (ring_head != ring_tail) {
            uint8_t c = ring[ring_tail % RX_RING_BYTES];
            ring_tail = ring_tail + 1u;
            if (rx_masked) {
                rx_masked = 0;
                NVIC_ISER(EDGEC_UART_IRQ) = NVIC_BIT(EDGEC_UART_IRQ); /* its pending interrupt runs now */
            }
            edgec_irq_enable();
            return c;
        }
        (void)edgec_uart_rx_drain();
        if (ring_head == ring_tail) {
            edgec_wait_for_interrupt(); /* with PRIMASK set: wakes on a pending interrupt, handler after */
        }
        edgec_irq_enable();
    }
}
