/* Cortex-M7 L1 instruction and data caches on (Armv7-M ARM, "Cache maintenance operations";
 * Cortex-M7 TRM, "Level 1 caches"). Both are off after reset; the data cache must be invalidated
 * by set/way before it is enabled. Peripherals sit in the Device region and are never cached. */
#ifndef EDGEC_ARMV7M_CACHE_H
#define EDGEC_ARMV7M_CACHE_H

#include <stdint.h>

#define SCB_CCR (*(volatile uint32_t *)0xE000ED14u)
#define SCB_CCR_DC (1u << 16)
#define SCB_CCR_IC (1u << 17)
#define SCB_CCSIDR (*(volatile uint32_t *)0xE000ED80u) /* of the cache CSSELR selects */
#define SCB_CSSELR (*(volatile uint32_t *)0xE000ED84u) /* 0: level 1 data cache */
#define SCB_ICIALLU (*(volatile uint32_t *)0xE000EF50u) /* invalidate all of the I-cache */
#define SCB_DCISW (*(volatile uint32_t *)0xE000EF60u) /* invalidate a D-cache line by set/way */

static inline void edgec_barrier(void)
{
    __asm volatile("dsb\n\tisb" ::: "memory");
}

static inline void edgec_caches_enable(void)
{
    edgec_barrier();
    SCB_ICIALLU = 0u;
    edgec_barrier();
    SCB_CCR |= SCB_CCR_IC;
    edgec_barrier();

    SCB_CSSELR = 0u;
    edgec_barrier();
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u; /* NumSets + 1 */
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u; /* Associativity + 1 */
    uint32_t set_shift = (ccsidr & 0x7u) + 4u; /* log2 of the line size in bytes */
    uint32_t way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u; /* way in the top bits */
    for (uint32_t set = 0u; set < sets; set++) {
        for (uint32_t way = 0u; way < ways; way++) {
            SCB_DCISW = (way << way_shift) | (set << set_shift);
        }
    }
    edgec_barrier();
    SCB_CCR |= SCB_CCR_DC;
    edgec_barrier();
}

#endif /* EDGEC_ARMV7M_CACHE_H */
