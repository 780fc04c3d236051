/* A free-running 64-bit tick counter. EDGEC_TIMER_HZ (edgec_config.h) gives its rate. */
#ifndef EDGEC_TIMER_H
#define EDGEC_TIMER_H

#include <stdint.h>

void edgec_timer_init(void);
uint64_t edgec_timer_now(void);

#endif /* EDGEC_TIMER_H */
