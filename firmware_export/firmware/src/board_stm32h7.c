/* STM32H743/H753 start-up, RM0433: the core stays on the reset clock, HSI at 64 MHz (HSIDIV /1,
 * every prescaler /1), in the reset voltage scale VOS3 with the reset flash latency (7 wait
 * states) and the power supply configuration (PWR_CR3) untouched. USART3's GPIO port and kernel
 * clock (rcc_pclk1) on, its pins routed; L1 caches on. PLL1 not started: 64 MHz, not 480. */
#include <stdint.h>

#include "edgec_armv7m_cache.h"
#include "edgec_board.h"
#include "edgec_config.h"
#include "edgec_stm32_gpio.h"

/* RM0433 "Memory map and register boundary addresses" */
#define RCC_BASE 0x58024400u
#define GPIO_PORT_BASE(n) (0x58020000u + 0x400u * (n)) /* GPIOA .. GPIOK */
#define USART3_BASE 0x40004800u

/* RM0433 "RCC registers" */
#define RCC_CR (*(volatile uint32_t *)(RCC_BASE + 0x000u))
#define RCC_CR_HSION (1u << 0)
#define RCC_CR_HSIRDY (1u << 2)
#define RCC_CR_HSIDIV_MASK (3u << 3) /* 00: /1, 64 MHz */
#define RCC_D2CCIP2R (*(volatile uint32_t *)(RCC_BASE + 0x054u))
#define RCC_D2CCIP2R_USART234578SEL_MASK (7u << 0) /* 000: rcc_pclk1 */
#define RCC_AHB4ENR (*(volatile uint32_t *)(RCC_BASE + 0x0E0u)) /* GPIOxEN: bit x (A = 0) */
#define RCC_APB1LENR (*(volatile uint32_t *)(RCC_BASE + 0x0E8u))
#define RCC_APB1LENR_USART3EN (1u << 18)

#if EDGEC_UART_BASE != USART3_BASE
#error "board_stm32h7.c clocks USART3 only"
#endif

uint32_t edgec_board_init(void)
{
    /* HSI is on and the system clock after reset; make sure of its divider (may change on the fly). */
    RCC_CR = (RCC_CR & ~RCC_CR_HSIDIV_MASK) | RCC_CR_HSION;
    while (!(RCC_CR & RCC_CR_HSIRDY)) {
    }

    RCC_AHB4ENR |= (1u << EDGEC_UART_TX_PORT) | (1u << EDGEC_UART_RX_PORT);
    (void)RCC_AHB4ENR; /* read back: the clock is on before the port is written */
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_TX_PORT), EDGEC_UART_TX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_NONE);
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_RX_PORT), EDGEC_UART_RX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_UP);

    RCC_D2CCIP2R &= ~RCC_D2CCIP2R_USART234578SEL_MASK;
    RCC_APB1LENR |= RCC_APB1LENR_USART3EN;
    (void)RCC_APB1LENR;

    edgec_caches_enable();
    return EDGEC_CORE_CLOCK_HZ;
}
