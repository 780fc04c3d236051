/* STM32F74x/F75x start-up, RM0385: SYSCLK from the main PLL on HSI (the reset clock, 16 MHz) at
 * the profile's clock, in RM0385's order for over-drive: PLL configured and on, over-drive enabled
 * and switched to, flash wait states and APB prescalers set, then SYSCLK switched to the PLL (the
 * values come from edgec_config.h, computed by firmware_export/firmware/clocks.py from RM0385's
 * tables). If the PLL or over-drive does not come, SYSCLK stays HSI. USART1 runs on HSI whatever
 * SYSCLK is; its GPIO ports on, its pins routed; L1 caches on. */
#include <stdint.h>

#include "edgec_armv7m_cache.h"
#include "edgec_board.h"
#include "edgec_clock_wait.h"
#include "edgec_config.h"
#include "edgec_stm32_gpio.h"

/* RM0385 "Memory map" */
#define RCC_BASE 0x40023800u
#define GPIO_PORT_BASE(n) (0x40020000u + 0x400u * (n)) /* GPIOA .. GPIOK */
#define USART1_BASE 0x40011000u
#define PWR_BASE 0x40007000u
#define FLASH_ACR (*(volatile uint32_t *)0x40023C00u) /* RM0385 "Flash access control register" */
#define FLASH_ACR_LATENCY_MASK 0xFu

/* RM0385 "RCC registers" */
#define RCC_CR (*(volatile uint32_t *)(RCC_BASE + 0x00u))
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR (*(volatile uint32_t *)(RCC_BASE + 0x04u))
#define RCC_PLLCFGR_KEEP (0xFu << 24) /* PLLQ (and PLLR where it exists): left at reset */
#define RCC_PLLCFGR_PLLM(v) ((uint32_t)(v) << 0)
#define RCC_PLLCFGR_PLLN(v) ((uint32_t)(v) << 6)
#define RCC_PLLCFGR_PLLP(v) ((uint32_t)(v) << 16) /* 0: /2, 1: /4, 2: /6, 3: /8; PLLSRC (22) = 0: HSI */
#define RCC_CFGR (*(volatile uint32_t *)(RCC_BASE + 0x08u))
#define RCC_CFGR_SW_MASK (3u << 0)
#define RCC_CFGR_SW_PLL (2u << 0)
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PPRE_MASK (0x3Fu << 10)
#define RCC_CFGR_PPRE(p1, p2) (((uint32_t)(p1) << 10) | ((uint32_t)(p2) << 13))
#define RCC_APB1ENR (*(volatile uint32_t *)(RCC_BASE + 0x40u))
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_AHB1ENR (*(volatile uint32_t *)(RCC_BASE + 0x30u)) /* GPIOxEN: bit x (A = 0) */
#define RCC_APB2ENR (*(volatile uint32_t *)(RCC_BASE + 0x44u))
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_DCKCFGR2 (*(volatile uint32_t *)(RCC_BASE + 0x90u))
#define RCC_DCKCFGR2_USART1SEL_MASK (3u << 0)
#define RCC_DCKCFGR2_USART1SEL_HSI (2u << 0)

/* RM0385 "PWR registers" */
#define PWR_CR1 (*(volatile uint32_t *)(PWR_BASE + 0x00u))
#define PWR_CR1_VOS_SCALE1 (3u << 14)
#define PWR_CR1_ODEN (1u << 16)
#define PWR_CR1_ODSWEN (1u << 17)
#define PWR_CSR1 (*(volatile uint32_t *)(PWR_BASE + 0x04u))
#define PWR_CSR1_ODRDY (1u << 16)
#define PWR_CSR1_ODSWRDY (1u << 17)

#if EDGEC_UART_BASE != USART1_BASE
#error "board_stm32f7.c clocks USART1 only"
#endif

/* SYSCLK from the PLL at EDGEC_CORE_CLOCK_HZ; the clock reached (HSI's if the PLL or the
 * over-drive does not come). HSI is SYSCLK on entry (reset). */
static uint32_t start_pll(void)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR; /* read back: the clock is on before PWR is written */
    PWR_CR1 |= PWR_CR1_VOS_SCALE1;
    RCC_CR &= ~RCC_CR_PLLON;
    (void)edgec_clock_wait(&RCC_CR, RCC_CR_PLLRDY, 0u);
    RCC_PLLCFGR = (RCC_PLLCFGR & RCC_PLLCFGR_KEEP) | RCC_PLLCFGR_PLLM(EDGEC_CLK_PLLM) |
                  RCC_PLLCFGR_PLLN(EDGEC_CLK_PLLN) | RCC_PLLCFGR_PLLP(EDGEC_CLK_PLLP);
    RCC_CR |= RCC_CR_PLLON;
    if (!edgec_clock_wait(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        RCC_CR &= ~RCC_CR_PLLON;
        return EDGEC_RESET_CLOCK_HZ;
    }
#if EDGEC_CLK_OVERDRIVE
    PWR_CR1 |= PWR_CR1_ODEN;
    if (!edgec_clock_wait(&PWR_CSR1, PWR_CSR1_ODRDY, PWR_CSR1_ODRDY)) {
        PWR_CR1 &= ~PWR_CR1_ODEN;
        RCC_CR &= ~RCC_CR_PLLON;
        return EDGEC_RESET_CLOCK_HZ;
    }
    PWR_CR1 |= PWR_CR1_ODSWEN;
    if (!edgec_clock_wait(&PWR_CSR1, PWR_CSR1_ODSWRDY, PWR_CSR1_ODSWRDY)) {
        PWR_CR1 &= ~(PWR_CR1_ODSWEN | PWR_CR1_ODEN);
        RCC_CR &= ~RCC_CR_PLLON;
        return EDGEC_RESET_CLOCK_HZ;
    }
#endif
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | EDGEC_CLK_FLASH_LATENCY;
    if (!edgec_clock_wait(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, EDGEC_CLK_FLASH_LATENCY)) {
        return EDGEC_RESET_CLOCK_HZ; /* more wait states than HSI needs: slower, still right */
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_PPRE_MASK) | RCC_CFGR_PPRE(EDGEC_CLK_PPRE1, EDGEC_CLK_PPRE2);
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    if (!edgec_clock_wait(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) {
        RCC_CFGR &= ~RCC_CFGR_SW_MASK; /* back to HSI */
        return EDGEC_RESET_CLOCK_HZ;
    }
    return EDGEC_CORE_CLOCK_HZ;
}

uint32_t edgec_board_init(void)
{
    uint32_t reached = start_pll();
    RCC_AHB1ENR |= (1u << EDGEC_UART_TX_PORT) | (1u << EDGEC_UART_RX_PORT);
    (void)RCC_AHB1ENR; /* read back: the clock is on before the ports are written */
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_TX_PORT), EDGEC_UART_TX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_NONE);
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_RX_PORT), EDGEC_UART_RX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_UP);

    RCC_DCKCFGR2 = (RCC_DCKCFGR2 & ~RCC_DCKCFGR2_USART1SEL_MASK) | RCC_DCKCFGR2_USART1SEL_HSI;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR;

    edgec_caches_enable();
    return reached;
}
