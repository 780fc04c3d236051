/* Board start-up: the clock the firmware runs at and the UART's clock and pins. Runs first in
 * main(), before the UART and the timer are touched. One board_*.c file implements it, and returns
 * the core clock it reached, in Hz: EDGEC_CORE_CLOCK_HZ, or the reset clock (EDGEC_RESET_CLOCK_HZ)
 * when a PLL did not lock within its bounded wait. */
#ifndef EDGEC_BOARD_H
#define EDGEC_BOARD_H

#include <stdint.h>

uint32_t edgec_board_init(void);

#endif /* EDGEC_BOARD_H */
