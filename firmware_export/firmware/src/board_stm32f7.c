/* STM32F74x/F75x start-up, RM0385: the core stays on the reset clock, HSI at 16 MHz (every
 * prescaler /1, flash latency 0 wait states as at reset). USART1's GPIO ports and kernel clock
 * (PCLK2) on, its pins routed; L1 caches on. PLL not started: 16 MHz, not 216. */
#include <stdint.h>

#include "edgec_armv7m_cache.h"
#include "edgec_board.h"
#include "edgec_config.h"
#include "edgec_stm32_gpio.h"

/* RM0385 "Memory map" */
#define RCC_BASE 0x40023800u
#define GPIO_PORT_BASE(n) (0x40020000u + 0x400u * (n)) /* GPIOA .. GPIOK */
#define USART1_BASE 0x40011000u

/* RM0385 "RCC registers" */
#define RCC_AHB1ENR (*(volatile uint32_t *)(RCC_BASE + 0x30u)) /* GPIOxEN: bit x (A = 0) */
#define RCC_APB2ENR (*(volatile uint32_t *)(RCC_BASE + 0x44u))
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_DCKCFGR2 (*(volatile uint32_t *)(RCC_BASE + 0x90u))
#define RCC_DCKCFGR2_USART1SEL_MASK (3u << 0) /* 00: APB2 clock (PCLK2) */

#if EDGEC_UART_BASE != USART1_BASE
#error "board_stm32f7.c clocks USART1 only"
#endif

void edgec_board_init(void)
{
    RCC_AHB1ENR |= (1u << EDGEC_UART_TX_PORT) | (1u << EDGEC_UART_RX_PORT);
    (void)RCC_AHB1ENR; /* read back: the clock is on before the ports are written */
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_TX_PORT), EDGEC_UART_TX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_NONE);
    stm32_gpio_alternate(GPIO_PORT_BASE(EDGEC_UART_RX_PORT), EDGEC_UART_RX_PIN, EDGEC_UART_PIN_FUNCTION,
                         GPIO_PULL_UP);

    RCC_DCKCFGR2 &= ~RCC_DCKCFGR2_USART1SEL_MASK;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR;

    edgec_caches_enable();
}
