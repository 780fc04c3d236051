/* UART driver interface used by the harness: polled, 8N1, no interrupts. */
#ifndef EDGEC_UART_H
#define EDGEC_UART_H

#include <stdint.h>

/* `divisor` is the baud-rate register value, computed by edgec for this UART's clock and baud
 * (firmware_export/firmware/uarts.py); its encoding is the driver's. */
void edgec_uart_init(uint32_t base, uint32_t divisor);
void edgec_uart_putc(char c);
/* Returns the next received byte, or -1 when none is waiting. */
int edgec_uart_getc(void);

#endif /* EDGEC_UART_H */
