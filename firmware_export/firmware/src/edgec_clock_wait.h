/* A bounded wait for a clock to lock or switch: a board whose PLL never locks (or an emulator
 * without a clock model, whose registers read 0) falls back to its reset clock instead of hanging. */
#ifndef EDGEC_CLOCK_WAIT_H
#define EDGEC_CLOCK_WAIT_H

#include <stdint.h>

/* About 60 ms at 16 MHz, hundreds of times what a PLL lock or an over-drive switch takes. */
#define EDGEC_CLOCK_WAIT_POLLS 100000u

/* 1 once (*reg & mask) == want, 0 if that did not happen within EDGEC_CLOCK_WAIT_POLLS reads. */
static inline int edgec_clock_wait(volatile uint32_t *reg, uint32_t mask, uint32_t want)
{
    for (uint32_t i = 0; i < EDGEC_CLOCK_WAIT_POLLS; i++) {
        if ((*reg & mask) == want) {
            return 1;
        }
    }
    return 0;
}

#endif /* EDGEC_CLOCK_WAIT_H */
