/* UART interface used by the harness: 8N1, transmit polled, receive interrupt-driven.
 *
 * A driver (uart_*.c) sets its UART up with the receive interrupt enabled, transmits by polling and
 * moves received bytes into the receive ring (uart_rx.c) from its interrupt. The harness waits for
 * input in edgec_uart_getc, which sleeps (WFI) while the ring is empty: an idle board, and QEMU
 * emulating one, does nothing until a byte comes. */
#ifndef EDGEC_UART_H
#define EDGEC_UART_H

#include <stdint.h>

/* `divisor` is the baud-rate register value, computed by edgec for this UART's clock and baud
 * (firmware_export/firmware/uarts.py); its encoding is the driver's. */
void edgec_uart_init(uint32_t base, uint32_t divisor);
void edgec_uart_putc(char c);
/* The driver's receive: moves the bytes the UART holds into the ring while edgec_uart_rx_room()
 * says there is room, and clears the UART's receive interrupt for each byte taken. Returns nonzero
 * when a byte was left in the UART for want of room (its interrupt stays pending). Runs in the
 * UART's interrupt, and with interrupts masked before the firmware sleeps. */
int edgec_uart_rx_drain(void);

/* uart_rx.c: the receive ring, the UART's interrupt handler and the wait. */
uint32_t edgec_uart_rx_room(void);
void edgec_uart_rx_push(uint8_t c);
void edgec_uart_irq_handler(void);
/* Enables the UART's interrupt in the NVIC (after edgec_uart_init). */
void edgec_uart_rx_start(void);
/* The next received byte; sleeps until one has come. */
int edgec_uart_getc(void);

#endif /* EDGEC_UART_H */
