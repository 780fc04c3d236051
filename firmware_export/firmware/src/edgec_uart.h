/* UART driver interface used by the harness: polled, 8N1, no interrupts. */
#ifndef EDGEC_UART_H
#define EDGEC_UART_H

#include <stdint.h>

void edgec_uart_init(uint32_t base, uint32_t clock_hz, uint32_t baud);
void edgec_uart_putc(char c);
/* Returns the next received byte, or -1 when none is waiting. */
int edgec_uart_getc(void);

#endif /* EDGEC_UART_H */
