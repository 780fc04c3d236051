/* No board set-up: on the emulated boards the reset state already clocks and routes the UART. */
#include "edgec_board.h"

void edgec_board_init(void)
{
}
