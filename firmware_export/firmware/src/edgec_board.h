/* Board start-up: the clock the firmware runs at and the UART's clock and pins. Runs first in
 * main(), before the UART and the timer are touched. One board_*.c file implements it. */
#ifndef EDGEC_BOARD_H
#define EDGEC_BOARD_H

void edgec_board_init(void);

#endif /* EDGEC_BOARD_H */
