/* STM32L4+ (STM32L4R5/L4S5...) start-up, RM0432: SYSCLK from HSI16 (the reset clock is MSI at
 * 4 MHz), VDDIO2 declared valid when the UART uses port G, the UART's GPIO port and kernel clock
 * on, its pins routed. Flash latency stays at its reset value, 0 wait states, which range 1 (the
 * reset voltage range) allows up to 20 MHz. PLL not started: the core runs at 16 MHz. */
#include <stdint.h>

#include "edgec_board.h"
#include "edgec_config.h"
#include "edgec_stm32_gpio.h"

/* RM0432 "Memory map" */
#define RCC_BASE 0x40021000u
#define PWR_BASE 0x40007000u
#define GPIO_PORT_BASE(n) (0x48000000u + 0x400u * (n)) /* GPIOA .. GPIOI */
#define LPUART1_BASE 0x40008000u

/* RM0432 "RCC registers" */
#define RCC_CR (*(volatile uint32_t *)(RCC_BASE + 0x00u))
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CFGR (*(volatile uint32_t *)(RCC_BASE + 0x08u))
#define RCC_CFGR_SW_MASK (3u << 0)
#define RCC_CFGR_SW_HSI16 (1u << 0)
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_HSI16 (1u << 2)
#define RCC_AHB2ENR (*(volatile uint32_t *)(RCC_BASE + 0x4Cu)) /* GPIOxEN: bit x (A = 0) */
#define RCC_APB1ENR1 (*(volatile uint32_t *)(RCC_BASE + 0x58u))
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2 (*(volatile uint32_t *)(RCC_BASE + 0x5Cu))
#define RCC_APB1ENR2_LPUART1EN (1u << 0)
#define RCC_CCIPR (*(volatile uint32_t *)(RCC_BASE + 0x88u))
#define RCC_CCIPR_LPUART1SEL_MASK (3u << 10) /* 00: PCLK1 */

/* RM0432 "PWR registers" */
#define PWR_CR2 (*(volatile uint32_t *)(PWR_BASE + 0x04u))
#define PWR_CR2_IOSV (1u << 9) /* VDDIO2 valid: needed to use PG2..PG15 */

#define PORT_G 6u

#if EDGEC_UART_BASE != LPUART1_BASE
#error "board_stm32l4plus.c clocks LPUART1 only"
#endif

void edgec_board_init(void)
{
    /* SYSCLK: HSI16. AHB and APB prescalers stay /1 (reset), so HCLK = PCLK1 = 16 MHz. */
    RCC_CR |= RCC_CR_HSION;
    while (!(RCC_CR & RCC_CR_HSIRDY)) {
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_HSI16;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_HSI16) {
    }

#if EDGEC_UART_TX_PORT == PORT_G || EDGEC_UART_RX_PORT == PORT_G
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1; /* read back: the clock is on before PWR is written */
    PWR_CR2 |= PWR_CR2_IOSV;
#endif

    RCC_AHB2ENR |= (1u << EDGEC_UART_TX_PORT) | (1u << EDGEC_UART_RX_PORT);
    (void)RCC_AHB2ENR;
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_TX_PORT), EDGEC_UART_TX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_NONE);
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_RX_PORT), EDGEC_UART_RX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_UP);

    RCC_CCIPR &= ~RCC_CCIPR_LPUART1SEL_MASK; /* LPUART1 kernel clock: PCLK1 */
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    (void)RCC_APB1ENR2;
}
