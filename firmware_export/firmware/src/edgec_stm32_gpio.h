/* STM32 GPIO port registers, the same on F2/F4/F7/H7/L4/L4+ (RM0385, RM0433, RM0432: "GPIO
 * registers"), and the routing of one pin to an alternate function. Only the port base differs. */
#ifndef EDGEC_STM32_GPIO_H
#define EDGEC_STM32_GPIO_H

#include <stdint.h>

#define GPIO_MODER(p) (*(volatile uint32_t *)((p) + 0x00u)) /* 2 bits a pin: 10 = alternate function */
#define GPIO_OTYPER(p) (*(volatile uint32_t *)((p) + 0x04u)) /* 1 bit a pin: 0 = push-pull */
#define GPIO_OSPEEDR(p) (*(volatile uint32_t *)((p) + 0x08u)) /* 2 bits a pin: 01 = medium */
#define GPIO_PUPDR(p) (*(volatile uint32_t *)((p) + 0x0Cu)) /* 2 bits a pin: 00 none, 01 pull-up */
#define GPIO_AFRL(p) (*(volatile uint32_t *)((p) + 0x20u)) /* 4 bits a pin, pins 0..7 */
#define GPIO_AFRH(p) (*(volatile uint32_t *)((p) + 0x24u)) /* 4 bits a pin, pins 8..15 */

#define GPIO_MODE_AF 2u
#define GPIO_SPEED_MEDIUM 1u
#define GPIO_PULL_NONE 0u
#define GPIO_PULL_UP 1u

/* Route `pin` of the port at `port_base` to alternate function `af`, push-pull, medium speed.
 * The function is selected before the mode changes, so the pin never drives another function. */
static inline void stm32_gpio_alternate(uint32_t port_base, uint32_t pin, uint32_t af, uint32_t pull)
{
    volatile uint32_t *afr = pin < 8u ? &GPIO_AFRL(port_base) : &GPIO_AFRH(port_base);
    uint32_t shift4 = (pin & 7u) * 4u;
    uint32_t shift2 = pin * 2u;
    *afr = (*afr & ~(0xFu << shift4)) | (af << shift4);
    GPIO_OTYPER(port_base) &= ~(1u << pin);
    GPIO_OSPEEDR(port_base) = (GPIO_OSPEEDR(port_base) & ~(3u << shift2)) | (GPIO_SPEED_MEDIUM << shift2);
    GPIO_PUPDR(port_base) = (GPIO_PUPDR(port_base) & ~(3u << shift2)) | (pull << shift2);
    GPIO_MODER(port_base) = (GPIO_MODER(port_base) & ~(3u << shift2)) | (GPIO_MODE_AF << shift2);
}

#endif /* EDGEC_STM32_GPIO_H */
