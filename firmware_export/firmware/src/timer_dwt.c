/* The DWT cycle counter (Cortex-M3/M4/M7/M33/M55 with the DWT unit), extended to 64 bits:
 * SysTick interrupts every 2^24 cycles, often enough to see each 32-bit wrap. */
#include "edgec_cortexm.h"
#include "edgec_timer.h"

static volatile uint32_t high;
static volatile uint32_t last;

static uint32_t extend(void)
{
    uint32_t now = DWT_CYCCNT;
    if (now < last) {
        high++;
    }
    last = now;
    return now;
}

void SysTick_Handler(void)
{
    (void)extend();
}

void edgec_timer_init(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = 0xC5ACCE55u; /* unlock on cores that have the lock (M7) */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    high = 0u;
    last = 0u;
    SYST_CSR = 0u;
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
}

uint64_t edgec_timer_now(void)
{
    edgec_irq_disable();
    uint32_t low = extend();
    uint32_t hi = high;
    edgec_irq_enable();
    return ((uint64_t)hi << 32) | low;
}
