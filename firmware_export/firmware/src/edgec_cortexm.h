/* The few Cortex-M system registers the firmware touches (same on every M-profile core). */
#ifndef EDGEC_CORTEXM_H
#define EDGEC_CORTEXM_H

#include <stdint.h>

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define SCB_SHPR3 (*(volatile uint32_t *)0xE000ED20u)

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
#define DWT_CTRL_CYCCNTENA (1u << 0)

/* NVIC: set-enable and clear-enable registers, one bit per external interrupt (IRQn) */
#define NVIC_ISER(n) (*(volatile uint32_t *)(0xE000E100u + 4u * ((uint32_t)(n) >> 5)))
#define NVIC_ICER(n) (*(volatile uint32_t *)(0xE000E180u + 4u * ((uint32_t)(n) >> 5)))
#define NVIC_BIT(n) (1u << ((uint32_t)(n) & 31u))

static inline void edgec_irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void edgec_irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
/* Sleep until an interrupt is pending (also with PRIMASK set, which then defers its handler). */
static inline void edgec_wait_for_interrupt(void) { __asm volatile("dsb\n\twfi" ::: "memory"); }

#endif /* EDGEC_CORTEXM_H */
