/* STM32H743/H753 start-up, RM0433 (rev 8) and datasheet DS12110: sys_ck from PLL1 on HSI (the
 * reset clock, 64 MHz at HSIDIV /1) at the profile's clock, in the order RM0433 asks for raising
 * the frequency: supply configuration (LDO) written, VOS1, then VOS0 (SYSCFG_PWRCR.ODEN) above
 * 400 MHz, PLL1 locked, flash wait states and the AXI/AHB/APB prescalers set, sys_ck switched.
 * Every wait is bounded (edgec_clock_wait.h). The settings come from edgec_config.h, computed by
 * firmware_export/firmware/clocks.py from RM0433's and DS12110's tables: one for revision V (the
 * profile's clock, 480 MHz at VOS0) and one for revision Y or a revision not known here
 * (DBGMCU_IDC.REV_ID), at most 400 MHz at VOS1; if VOS0 does not come, the second one too. If the
 * supply, VOS1, PLL1 or the switch does not come, sys_ck stays HSI (64 MHz). Returns the clock
 * reached. USART3 runs on hsi_ker_ck (HSI, 64 MHz) whatever sys_ck is, so its BRR does not depend
 * on which clock was reached; its GPIO port and bus clock on, its pins routed; L1 caches on. */
#include <stdint.h>

#include "edgec_armv7m_cache.h"
#include "edgec_board.h"
#include "edgec_clock_wait.h"
#include "edgec_config.h"
#include "edgec_stm32_gpio.h"

/* RM0433 "Memory map and register boundary addresses" */
#define RCC_BASE 0x58024400u
#define PWR_BASE 0x58024800u
#define SYSCFG_BASE 0x58000400u
#define GPIO_PORT_BASE(n) (0x58020000u + 0x400u * (n)) /* GPIOA .. GPIOK */
#define USART3_BASE 0x40004800u
#define FLASH_ACR (*(volatile uint32_t *)0x52002000u) /* RM0433 "FLASH access control register" */
#define FLASH_ACR_MASK 0x3Fu                           /* LATENCY [3:0], WRHIGHFREQ [5:4] */
#define FLASH_ACR_VALUE(latency, wrhighfreq) ((uint32_t)(latency) | ((uint32_t)(wrhighfreq) << 4))
#define DBGMCU_IDC (*(volatile uint32_t *)0x5C001000u) /* REV_ID [31:16] */
#define REV_ID_V 0x2003u

/* RM0433 "RCC registers" */
#define RCC_CR (*(volatile uint32_t *)(RCC_BASE + 0x000u))
#define RCC_CR_HSION (1u << 0)
#define RCC_CR_HSIRDY (1u << 2)
#define RCC_CR_HSIDIV_MASK (3u << 3) /* 00: /1, 64 MHz */
#define RCC_CR_PLL1ON (1u << 24)
#define RCC_CR_PLL1RDY (1u << 25)
#define RCC_CFGR (*(volatile uint32_t *)(RCC_BASE + 0x010u))
#define RCC_CFGR_SW_MASK (7u << 0) /* 000: HSI */
#define RCC_CFGR_SW_PLL1 (3u << 0)
#define RCC_CFGR_SWS_MASK (7u << 3)
#define RCC_CFGR_SWS_PLL1 (3u << 3)
#define RCC_D1CFGR (*(volatile uint32_t *)(RCC_BASE + 0x018u)) /* HPRE [3:0], D1PPRE [6:4], D1CPRE [11:8] */
#define RCC_D1CFGR_MASK 0xFFFu                                 /* D1CPRE stays /1 */
#define RCC_D1CFGR_VALUE(hpre, ppre) ((uint32_t)(hpre) | ((uint32_t)(ppre) << 4))
#define RCC_D2CFGR (*(volatile uint32_t *)(RCC_BASE + 0x01Cu)) /* D2PPRE1 [6:4], D2PPRE2 [10:8] */
#define RCC_D2CFGR_MASK ((7u << 4) | (7u << 8))
#define RCC_D2CFGR_VALUE(ppre) (((uint32_t)(ppre) << 4) | ((uint32_t)(ppre) << 8))
#define RCC_D3CFGR (*(volatile uint32_t *)(RCC_BASE + 0x020u)) /* D3PPRE [6:4] */
#define RCC_D3CFGR_MASK (7u << 4)
#define RCC_PLLCKSELR (*(volatile uint32_t *)(RCC_BASE + 0x028u))
#define RCC_PLLCKSELR_MASK ((3u << 0) | (0x3Fu << 4)) /* PLLSRC = 00: HSI; DIVM1 */
#define RCC_PLLCFGR (*(volatile uint32_t *)(RCC_BASE + 0x02Cu))
#define RCC_PLLCFGR_PLL1_MASK 0xFu /* PLL1FRACEN = 0, PLL1VCOSEL = 0 (wide VCO), PLL1RGE [3:2] */
#define RCC_PLLCFGR_DIVP1EN (1u << 16)
#define RCC_PLL1DIVR (*(volatile uint32_t *)(RCC_BASE + 0x030u))
#define RCC_PLL1DIVR_NP_MASK 0xFFFFu /* DIVN1 [8:0], DIVP1 [15:9]; DIVQ1 and DIVR1 left at reset */
#define RCC_D2CCIP2R (*(volatile uint32_t *)(RCC_BASE + 0x054u))
#define RCC_D2CCIP2R_USART234578SEL_MASK (7u << 0)
#define RCC_D2CCIP2R_USART234578SEL_HSI (3u << 0) /* 011: hsi_ker_ck */
#define RCC_AHB4ENR (*(volatile uint32_t *)(RCC_BASE + 0x0E0u)) /* GPIOxEN: bit x (A = 0) */
#define RCC_APB1LENR (*(volatile uint32_t *)(RCC_BASE + 0x0E8u))
#define RCC_APB1LENR_USART3EN (1u << 18)
#define RCC_APB4ENR (*(volatile uint32_t *)(RCC_BASE + 0x0F4u))
#define RCC_APB4ENR_SYSCFGEN (1u << 1)

/* RM0433 "PWR registers" */
#define PWR_CSR1 (*(volatile uint32_t *)(PWR_BASE + 0x04u))
#define PWR_CSR1_ACTVOSRDY (1u << 13)
#define PWR_CR3 (*(volatile uint32_t *)(PWR_BASE + 0x0Cu))
#define PWR_CR3_BYPASS (1u << 0)
#define PWR_CR3_LDOEN (1u << 1)
#define PWR_CR3_SCUEN (1u << 2)
#define PWR_D3CR (*(volatile uint32_t *)(PWR_BASE + 0x18u))
#define PWR_D3CR_VOSRDY (1u << 13)
#define PWR_D3CR_VOS_MASK (3u << 14)
#define PWR_D3CR_VOS1 (3u << 14) /* 11: scale 1 (reset: 01, scale 3) */
/* RM0433 "SYSCFG registers" */
#define SYSCFG_PWRCR (*(volatile uint32_t *)(SYSCFG_BASE + 0x2Cu))
#define SYSCFG_PWRCR_ODEN (1u << 0)

#if EDGEC_UART_BASE != USART3_BASE
#error "board_stm32h7.c clocks USART3 only"
#endif

/* One way to the clock: PLL1's dividers, the prescalers and the flash settings for it. */
struct h7_clock {
    uint32_t hz, vos0, divm, rge, divn, divp, hpre, ppre, latency, wrhighfreq;
};
#define H7_CLOCK(hz, p)                                                                                    \
    {                                                                                                      \
        hz, p##VOS0, p##PLLM, p##PLLRGE, p##PLLN, p##PLLP, p##HPRE, p##PPRE, p##FLASH_LATENCY, p##WRHIGHFREQ \
    }
static const struct h7_clock rev_v = H7_CLOCK(EDGEC_CORE_CLOCK_HZ, EDGEC_CLK_);
static const struct h7_clock rev_y = H7_CLOCK(EDGEC_CLK_REVY_HZ, EDGEC_CLK_REVY_);

/* The regulator at the clock's voltage scale: 1 once there. VOS1 from the reset VOS3, then VOS0
 * from VOS1 with the SYSCFG clock on (RM0433 "Voltage scaling"); VOS0 failing is undone. */
static int set_voltage(const struct h7_clock *c)
{
    PWR_D3CR = (PWR_D3CR & ~PWR_D3CR_VOS_MASK) | PWR_D3CR_VOS1;
    if (!edgec_clock_wait(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY)) {
        return 0;
    }
    if (c->vos0) {
        RCC_APB4ENR |= RCC_APB4ENR_SYSCFGEN;
        (void)RCC_APB4ENR; /* read back: the clock is on before SYSCFG is written */
        SYSCFG_PWRCR |= SYSCFG_PWRCR_ODEN;
        if (!edgec_clock_wait(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY)) {
            SYSCFG_PWRCR &= ~SYSCFG_PWRCR_ODEN; /* back to VOS1 */
            (void)edgec_clock_wait(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY);
            return 0;
        }
    }
    return 1;
}

/* sys_ck from PLL1 at c->hz; 1 once switched, 0 with sys_ck still HSI (and the prescalers /1). */
static int start_pll1(const struct h7_clock *c)
{
    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~RCC_PLLCKSELR_MASK) | (c->divm << 4);
    RCC_PLLCFGR = (RCC_PLLCFGR & ~RCC_PLLCFGR_PLL1_MASK) | (c->rge << 2) | RCC_PLLCFGR_DIVP1EN;
    RCC_PLL1DIVR = (RCC_PLL1DIVR & ~RCC_PLL1DIVR_NP_MASK) | c->divn | (c->divp << 9);
    RCC_CR |= RCC_CR_PLL1ON;
    if (!edgec_clock_wait(&RCC_CR, RCC_CR_PLL1RDY, RCC_CR_PLL1RDY)) {
        RCC_CR &= ~RCC_CR_PLL1ON;
        return 0;
    }
    /* More wait states before a faster clock: at the HSI's 64 MHz they are slower, still right. */
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_MASK) | FLASH_ACR_VALUE(c->latency, c->wrhighfreq);
    if (!edgec_clock_wait(&FLASH_ACR, FLASH_ACR_MASK, FLASH_ACR_VALUE(c->latency, c->wrhighfreq))) {
        RCC_CR &= ~RCC_CR_PLL1ON;
        return 0;
    }
    RCC_D1CFGR = (RCC_D1CFGR & ~RCC_D1CFGR_MASK) | RCC_D1CFGR_VALUE(c->hpre, c->ppre);
    RCC_D2CFGR = (RCC_D2CFGR & ~RCC_D2CFGR_MASK) | RCC_D2CFGR_VALUE(c->ppre);
    RCC_D3CFGR = (RCC_D3CFGR & ~RCC_D3CFGR_MASK) | (c->ppre << 4);
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL1;
    if (!edgec_clock_wait(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL1)) {
        RCC_CFGR &= ~RCC_CFGR_SW_MASK; /* back to HSI, every prescaler /1 */
        RCC_D1CFGR &= ~RCC_D1CFGR_MASK;
        RCC_D2CFGR &= ~RCC_D2CFGR_MASK;
        RCC_D3CFGR &= ~RCC_D3CFGR_MASK;
        RCC_CR &= ~RCC_CR_PLL1ON;
        return 0;
    }
    return 1;
}

/* The clock reached: rev_v's, rev_y's, or HSI's (EDGEC_RESET_CLOCK_HZ). */
static uint32_t start_clock(void)
{
    /* HSI on at /1 (its divider may change on the fly; PLL1 is off after reset). */
    RCC_CR = (RCC_CR & ~RCC_CR_HSIDIV_MASK) | RCC_CR_HSION;
    if (!edgec_clock_wait(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY)) {
        return EDGEC_RESET_CLOCK_HZ;
    }
    /* The supply configuration: written once after power-on (RM0433 "PWR control register 3"),
     * before VOS or sys_ck change: LDO on, bypass off. After a reset without power-on the write is
     * ignored; whatever the first one chose must be the LDO. */
    PWR_CR3 = (PWR_CR3 & ~(PWR_CR3_BYPASS | PWR_CR3_SCUEN)) | PWR_CR3_LDOEN;
    if ((PWR_CR3 & (PWR_CR3_BYPASS | PWR_CR3_LDOEN)) != PWR_CR3_LDOEN ||
        !edgec_clock_wait(&PWR_CSR1, PWR_CSR1_ACTVOSRDY, PWR_CSR1_ACTVOSRDY)) {
        return EDGEC_RESET_CLOCK_HZ;
    }
    /* Revision V runs 480 MHz at VOS0; revision Y (0x1003), or an ID not read, at most 400 MHz. */
    const struct h7_clock *c = (DBGMCU_IDC >> 16) == REV_ID_V ? &rev_v : &rev_y;
    if (!set_voltage(c)) {
        if (c == &rev_y || !set_voltage(&rev_y)) {
            return EDGEC_RESET_CLOCK_HZ;
        }
        c = &rev_y;
    }
    return start_pll1(c) ? c->hz : EDGEC_RESET_CLOCK_HZ;
}

uint32_t edgec_board_init(void)
{
    uint32_t reached = start_clock();

    RCC_AHB4ENR |= (1u << EDGEC_UART_TX_PORT) | (1u << EDGEC_UART_RX_PORT);
    (void)RCC_AHB4ENR; /* read back: the clock is on before the port is written */
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_TX_PORT), EDGEC_UART_TX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_NONE);
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_RX_PORT), EDGEC_UART_RX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_UP);

    RCC_D2CCIP2R = (RCC_D2CCIP2R & ~RCC_D2CCIP2R_USART234578SEL_MASK) | RCC_D2CCIP2R_USART234578SEL_HSI;
    RCC_APB1LENR |= RCC_APB1LENR_USART3EN;
    (void)RCC_APB1LENR;

    edgec_caches_enable();
    return reached;
}
