/* STM32L4+ (STM32L4R5/L4S5...) start-up, RM0432: HSI16 on (the reset clock is MSI at 4 MHz), then
 * SYSCLK from the main PLL on HSI16 at the profile's clock (the PLL's M, N, R, the flash wait
 * states and Range 1 boost mode come from edgec_config.h, computed by firmware_export/firmware/
 * clocks.py from RM0432's tables), following RM0432's order for boost mode: AHB /2, R1MODE = 0,
 * wait states, PLL, switch, 1 us, AHB /1. If the PLL does not lock, SYSCLK stays HSI16 (16 MHz).
 * VDDIO2 declared valid when the UART uses port G; LPUART1 runs on HSI16 whatever SYSCLK is. */
#include <stdint.h>

#include "edgec_board.h"
#include "edgec_clock_wait.h"
#include "edgec_config.h"
#include "edgec_stm32_gpio.h"

/* RM0432 "Memory map" */
#define RCC_BASE 0x40021000u
#define PWR_BASE 0x40007000u
#define GPIO_PORT_BASE(n) (0x48000000u + 0x400u * (n)) /* GPIOA .. GPIOI */
#define LPUART1_BASE 0x40008000u
#define FLASH_ACR (*(volatile uint32_t *)0x40022000u) /* RM0432 "Flash access control register" */
#define FLASH_ACR_LATENCY_MASK 0xFu

/* RM0432 "RCC registers" */
#define RCC_CR (*(volatile uint32_t *)(RCC_BASE + 0x00u))
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR (*(volatile uint32_t *)(RCC_BASE + 0x08u))
#define RCC_CFGR_SW_MASK (3u << 0)
#define RCC_CFGR_SW_HSI16 (1u << 0)
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_HSI16 (1u << 2)
#define RCC_CFGR_SW_PLL (3u << 0)
#define RCC_CFGR_SWS_PLL (3u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_HPRE_DIV2 (8u << 4)
#define RCC_PLLCFGR (*(volatile uint32_t *)(RCC_BASE + 0x0Cu))
#define RCC_PLLCFGR_PLLSRC_HSI16 (2u << 0)
#define RCC_PLLCFGR_PLLM(v) ((uint32_t)(v) << 4) /* M - 1 */
#define RCC_PLLCFGR_PLLN(v) ((uint32_t)(v) << 8)
#define RCC_PLLCFGR_PLLREN (1u << 24)
#define RCC_PLLCFGR_PLLR(v) ((uint32_t)(v) << 25) /* 0: /2, 1: /4, 2: /6, 3: /8 */
#define RCC_AHB2ENR (*(volatile uint32_t *)(RCC_BASE + 0x4Cu)) /* GPIOxEN: bit x (A = 0) */
#define RCC_APB1ENR1 (*(volatile uint32_t *)(RCC_BASE + 0x58u))
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2 (*(volatile uint32_t *)(RCC_BASE + 0x5Cu))
#define RCC_APB1ENR2_LPUART1EN (1u << 0)
#define RCC_CCIPR (*(volatile uint32_t *)(RCC_BASE + 0x88u))
#define RCC_CCIPR_LPUART1SEL_MASK (3u << 10)
#define RCC_CCIPR_LPUART1SEL_HSI16 (2u << 10)

/* RM0432 "PWR registers" */
#define PWR_CR2 (*(volatile uint32_t *)(PWR_BASE + 0x04u))
#define PWR_CR2_IOSV (1u << 9) /* VDDIO2 valid: needed to use PG2..PG15 */
#define PWR_SR2 (*(volatile uint32_t *)(PWR_BASE + 0x14u))
#define PWR_SR2_VOSF (1u << 10) /* the regulator is still changing */
#define PWR_CR5 (*(volatile uint32_t *)(PWR_BASE + 0x80u))
#define PWR_CR5_R1MODE (1u << 8) /* 1: Range 1 normal, 0: Range 1 boost */

#define PORT_G 6u

#if EDGEC_UART_BASE != LPUART1_BASE
#error "board_stm32l4plus.c clocks LPUART1 only"
#endif

/* SYSCLK from the PLL at EDGEC_CORE_CLOCK_HZ; the clock reached (the reset HSI16 if the PLL or
 * the switch does not come). HSI16 is SYSCLK on entry. */
static uint32_t start_pll(void)
{
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_HPRE_MASK) | RCC_CFGR_HPRE_DIV2; /* boost's transition: HCLK / 2 */
#if EDGEC_CLK_BOOST
    PWR_CR5 &= ~PWR_CR5_R1MODE;
    (void)edgec_clock_wait(&PWR_SR2, PWR_SR2_VOSF, 0u);
#endif
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | EDGEC_CLK_FLASH_LATENCY;
    (void)edgec_clock_wait(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, EDGEC_CLK_FLASH_LATENCY);
    RCC_CR &= ~RCC_CR_PLLON;
    (void)edgec_clock_wait(&RCC_CR, RCC_CR_PLLRDY, 0u);
    RCC_PLLCFGR = RCC_PLLCFGR_PLLSRC_HSI16 | RCC_PLLCFGR_PLLM(EDGEC_CLK_PLLM) | RCC_PLLCFGR_PLLN(EDGEC_CLK_PLLN) |
                  RCC_PLLCFGR_PLLR(EDGEC_CLK_PLLR) | RCC_PLLCFGR_PLLREN;
    RCC_CR |= RCC_CR_PLLON;
    uint32_t reached = EDGEC_RESET_CLOCK_HZ;
    if (edgec_clock_wait(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) {
        RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
        if (edgec_clock_wait(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) {
            reached = EDGEC_CORE_CLOCK_HZ;
        } else {
            RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_HSI16;
        }
    }
    for (volatile uint32_t i = 0; i < 64u; i++) { /* at least 1 us at HCLK / 2 before HCLK / 1 */
    }
    RCC_CFGR &= ~RCC_CFGR_HPRE_MASK;
    return reached;
}

uint32_t edgec_board_init(void)
{
    /* HSI16 first (the PLL's source, LPUART1's clock, the fallback); APB prescalers stay /1. */
    RCC_CR |= RCC_CR_HSION;
    (void)edgec_clock_wait(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY);
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_HSI16;
    (void)edgec_clock_wait(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_HSI16);
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN; /* PWR's registers: boost mode, VDDIO2 */
    (void)RCC_APB1ENR1; /* read back: the clock is on before PWR is written */
    uint32_t reached = start_pll();

#if EDGEC_UART_TX_PORT == PORT_G || EDGEC_UART_RX_PORT == PORT_G
    PWR_CR2 |= PWR_CR2_IOSV;
#endif

    RCC_AHB2ENR |= (1u << EDGEC_UART_TX_PORT) | (1u << EDGEC_UART_RX_PORT);
    (void)RCC_AHB2ENR;
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_TX_PORT), EDGEC_UART_TX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_NONE);
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_RX_PORT), EDGEC_UART_RX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_UP);

    RCC_CCIPR = (RCC_CCIPR & ~RCC_CCIPR_LPUART1SEL_MASK) | RCC_CCIPR_LPUART1SEL_HSI16;
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    (void)RCC_APB1ENR2;
    return reached;
}
