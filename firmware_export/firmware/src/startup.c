/* Vector table and reset handler: copy .data, zero .bss, paint the stack, enable the FPU.
 * The table runs up to the UART's interrupt (EDGEC_UART_IRQ), the one external interrupt enabled. */
#include <stdint.h>

#include "edgec_cortexm.h"
#include "edgec_config.h"
#include "edgec_uart.h"

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
void SysTick_Handler(void);
void edgec_fault(uint32_t ipsr);

typedef void (*vector_t)(void);

#define VECTORS (16u + EDGEC_UART_IRQ + 1u)

__attribute__((section(".vectors"), used)) const vector_t edgec_vectors[VECTORS] = {
    (vector_t)(uintptr_t)__stack_top,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (v8-M Mainline) */
    0,
    0,
    0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    SysTick_Handler,
#if EDGEC_UART_IRQ > 0
    [16 ... 15u + EDGEC_UART_IRQ] = Fault_Handler, /* never enabled */
#endif
    [16u + EDGEC_UART_IRQ] = edgec_uart_irq_handler,
};

void Fault_Handler(void)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    edgec_fault(ipsr & 0x1FFu);
    for (;;) {
    }
}

__attribute__((noreturn)) void Reset_Handler(void)
{
    uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0u;
    }
    /* Paint the stack below the current frame, to measure its high-water mark later. */
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = __stack_limit; p < sp - 16; p++) {
        *p = STACK_PAINT;
    }
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= (0xFu << 20); /* CP10 and CP11 full access */
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
    SCB_VTOR = (uint32_t)(uintptr_t)edgec_vectors;
    (void)main();
    for (;;) {
    }
}

uint32_t edgec_stack_used_bytes(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

uint32_t edgec_stack_size_bytes(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit);
}
