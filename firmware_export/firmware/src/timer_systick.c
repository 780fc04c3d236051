/* SysTick on the processor clock, extended to 64 bits by counting wraps in its interrupt.
 * Used on QEMU (which does not emulate the DWT cycle counter): run with -icount so that the
 * count is a deterministic function of the instructions executed. */
#include "edgec_cortexm.h"
#include "edgec_timer.h"

#define RELOAD 0x00FFFFFFu

static volatile uint32_t wraps;

void SysTick_Handler(void)
{
    wraps++;
}

void edgec_timer_init(void)
{
    wraps = 0u;
    SYST_CSR = 0u;
    SYST_RVR = RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
}

uint64_t edgec_timer_now(void)
{
    uint32_t high;
    uint32_t value;
    do {
        high = wraps;
        value = SYST_CVR;
    } while (high != wraps);
    return ((uint64_t)high * (RELOAD + 1u)) + (RELOAD - value);
}
