/* No board set-up: on the emulated boards the reset state already clocks and routes the UART. */
#include "edgec_board.h"
#include "edgec_config.h"

uint32_t edgec_board_init(void)
{
    return EDGEC_CORE_CLOCK_HZ;
}
