/* Benchmark harness speaking the MLPerf Tiny / EEMBC device protocol on the UART.
 *
 * Commands end in '%'. Standard: name, profile, timestamp, db load N, db HEX..., db print,
 * infer N W, results, help. Ours (prefixed edgec-, answers prefixed m-edgec-): edgec-raw,
 * edgec-timing (with core_hz, the clock the core really runs at), edgec-layers, edgec-stack,
 * edgec-arena. Every command ends with m-ready.
 *
 * The db buffer holds what the host loads; `infer` turns it into the model's input tensor as the
 * MLPerf Tiny reference firmware of the build's benchmark does (EDGEC_DB_ENCODING), and refuses to
 * run on a buffer that does not hold one whole input. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "edgec_board.h"
#include "edgec_config.h"
#include "edgec_model.h"
#include "edgec_timer.h"
#include "edgec_uart.h"

#define CMD_MAX 128u

uint32_t edgec_stack_used_bytes(void);
uint32_t edgec_stack_size_bytes(void);

static uint8_t db_buf[EDGEC_DB_BYTES] __attribute__((aligned(16)));
#if EDGEC_DB_ENCODING == EDGEC_DB_RAW
#define input_buf db_buf /* the loaded bytes are the tensor */
#else
static uint8_t input_buf[EDGEC_INPUT_BYTES] __attribute__((aligned(16)));
#endif
static uint8_t output_buf[EDGEC_OUTPUT_BYTES] __attribute__((aligned(16)));
static size_t load_expected;
static size_t load_pos;

static uint32_t core_hz; /* the core clock edgec_board_init reached: what both timers count */
static uint64_t timed_ticks;
static uint32_t timed_runs;
static uint64_t layer_ticks[EDGEC_NUM_OPS];
static uint64_t layer_mark;
static int layer_timing;

/* ---- output ---- */

static void put_str(const char *s)
{
    while (*s) {
        edgec_uart_putc(*s++);
    }
}

/* n / d, its remainder in *rem (d > 0): one bit a step, where the C operators would link the C
 * library's 64-bit division (700 bytes of flash for the few numbers the harness prints). */
static uint64_t div_u64(uint64_t n, uint64_t d, uint64_t *rem)
{
    uint64_t q = 0u, r = 0u;
    for (int bit = 63; bit >= 0; bit--) {
        r = (r << 1) | ((n >> bit) & 1u);
        if (r >= d) {
            r -= d;
            q |= (uint64_t)1u << bit;
        }
    }
    *rem = r;
    return q;
}

static void put_u64(uint64_t v)
{
    char digits[21];
    int n = 0;
    do {
        uint64_t digit;
        v = div_u64(v, 10u, &digit);
        digits[n++] = (char)('0' + (int)digit);
    } while (v);
    while (n) {
        edgec_uart_putc(digits[--n]);
    }
}

static void put_i64(int64_t v)
{
    if (v < 0) {
        edgec_uart_putc('-');
        put_u64((uint64_t)(-(v + 1)) + 1u);
    } else {
        put_u64((uint64_t)v);
    }
}

static void put_hex8(uint8_t b)
{
    static const char hex[] = "0123456789abcdef";
    edgec_uart_putc(hex[b >> 4]);
    edgec_uart_putc(hex[b & 0xFu]);
}

static void put_fixed3(float v)
{
    /* Rounded to 3 decimals, as the reference firmware's "%0.3f". */
    int64_t milli = (int64_t)(v * 1000.0f + (v < 0.0f ? -0.5f : 0.5f));
    if (milli < 0) {
        edgec_uart_putc('-');
        milli = -milli;
    }
    uint64_t rest;
    put_u64(div_u64((uint64_t)milli, 1000u, &rest));
    edgec_uart_putc('.');
    int frac = (int)rest;
    edgec_uart_putc((char)('0' + frac / 100));
    edgec_uart_putc((char)('0' + (frac / 10) % 10));
    edgec_uart_putc((char)('0' + frac % 10));
}

static void end_line(void) { put_str("\r\n"); }

static void error_line(const char *problem, const char *detail)
{
    put_str("e-[");
    put_str(problem);
    put_str(detail);
    put_str("]");
    end_line();
}

void edgec_fault(uint32_t ipsr)
{
    put_str("e-[fault: exception ");
    put_u64(ipsr);
    put_str("]");
    end_line();
}

/* ---- timing ---- */

void edgec_layer_hook(int op_index)
{
    if (!layer_timing || op_index < 0 || op_index >= EDGEC_NUM_OPS) {
        return;
    }
    uint64_t now = edgec_timer_now();
    layer_ticks[op_index] += now - layer_mark;
    layer_mark = now;
}

/* floor(ticks * num / den) without overflow: (den - 1) * num fits 64 bits (checked by the generator).
 * On QEMU, the instruction count at the profile's clock; on a board, real microseconds of the core
 * clock it reached. */
static uint64_t ticks_to_us(uint64_t ticks)
{
#if EDGEC_EMULATED
    const uint64_t num = EDGEC_LAP_US_NUM, den = EDGEC_LAP_US_DEN;
#else
    const uint64_t num = 1000000u, den = core_hz;
#endif
    uint64_t rest, unused;
    const uint64_t whole = div_u64(ticks, den, &rest);
    return whole * num + div_u64(rest * num, den, &unused);
}

static void lap(uint64_t ticks)
{
    put_str("m-lap-us-");
    put_u64(ticks_to_us(ticks));
    end_line();
}

/* ---- parsing helpers ---- */

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static char *next_token(char **cursor)
{
    char *p = *cursor;
    while (*p == ' ') {
        p++;
    }
    if (!*p) {
        *cursor = p;
        return NULL;
    }
    char *start = p;
    while (*p && *p != ' ') {
        p++;
    }
    if (*p) {
        *p++ = '\0';
    }
    *cursor = p;
    return start;
}

static int parse_uint(const char *s, uint32_t *out)
{
    uint32_t v = 0u;
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000u) {
            return 0;
        }
        v = v * 10u + (uint32_t)(*s - '0');
    }
    *out = v;
    return 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* ---- the input tensor from the db buffer ---- */

#if EDGEC_DB_ENCODING == EDGEC_DB_FLOAT32_QUANTIZED
static float db_feature(size_t i)
{
    union {
        uint32_t bits;
        float value;
    } f;
    const uint8_t *p = &db_buf[4u * i];
    f.bits = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    return f.value;
}
#endif

/* 0, and nothing decoded, when the buffer does not hold one whole input (a load cut short, or
 * shorter than the input): the reference firmware's message, then an error line. */
static int load_tensor(void)
{
    if (load_pos != EDGEC_DB_BYTES) {
        put_str("Input db has ");
        put_u64(load_pos / EDGEC_DB_ELEMENT_BYTES);
        put_str(" elemented, expected ");
        put_u64(EDGEC_DB_BYTES / EDGEC_DB_ELEMENT_BYTES);
        end_line();
        error_line("infer: no whole input loaded (db load N, then N bytes); nothing run", "");
        return 0;
    }
#if EDGEC_DB_ENCODING == EDGEC_DB_UINT8_MINUS_128
    for (size_t i = 0; i < EDGEC_INPUT_BYTES; i++) {
        input_buf[i] = (uint8_t)(int8_t)((int)db_buf[i] - 128);
    }
#elif EDGEC_DB_ENCODING == EDGEC_DB_FLOAT32_QUANTIZED
    for (size_t i = 0; i < EDGEC_INPUT_BYTES; i++) {
        /* round half away from zero, plus the zero point, clamped (NaN to -128) */
        float q = roundf(db_feature(i) / EDGEC_INPUT_SCALE) + (float)EDGEC_INPUT_ZERO_POINT;
        if (!(q >= -128.0f)) {
            q = -128.0f;
        } else if (q > 127.0f) {
            q = 127.0f;
        }
        input_buf[i] = (uint8_t)(int8_t)q;
    }
#endif
    return 1;
}

/* ---- commands ---- */

static void print_results(void)
{
    put_str("m-results-[");
#if EDGEC_RESULT_MSE
    /* the mean over the features of (dequantized output - float input)^2, in float32 */
    float sum = 0.0f;
    for (size_t i = 0; i < EDGEC_OUTPUT_COUNT; i++) {
        float diff = edgec_output_value(output_buf, i) - db_feature(i);
        sum += diff * diff;
    }
    put_fixed3(sum / (float)EDGEC_OUTPUT_COUNT);
#else
    for (size_t i = 0; i < EDGEC_OUTPUT_COUNT; i++) {
        if (i) {
            edgec_uart_putc(',');
        }
        put_fixed3(edgec_output_value(output_buf, i));
    }
#endif
    put_str("]");
    end_line();
}

static void cmd_db(char *args)
{
    char *sub = next_token(&args);
    if (!sub) {
        error_line("db: expected load N, print or hex data", "");
        return;
    }
    if (str_eq(sub, "load")) {
        char *n_text = next_token(&args);
        uint32_t n;
        if (!n_text || !parse_uint(n_text, &n) || n == 0u || n > EDGEC_DB_BYTES) {
            error_line("db load: expected a byte count from 1 to the input size", "");
            return;
        }
        load_expected = n;
        load_pos = 0u;
        put_str("m-[Expecting ");
        put_u64(n);
        put_str(" bytes]");
        end_line();
        return;
    }
    if (str_eq(sub, "print")) {
        for (size_t i = 0; i < load_pos; i++) {
            if (i % 8u == 0u) {
                put_str("m-buffer-");
            }
            put_hex8(db_buf[i]);
            if ((i + 1u) % 8u == 0u || i + 1u == load_pos) {
                end_line();
            } else {
                edgec_uart_putc('-');
            }
        }
        return;
    }
    if (load_expected == 0u) {
        error_line("db: no load in progress (send db load N first)", "");
        return;
    }
    for (char *p = sub; p[0]; p += 2) {
        int hi = hex_value(p[0]);
        int lo = p[1] ? hex_value(p[1]) : -1;
        if (hi < 0 || lo < 0) {
            error_line("db: invalid hex data", "");
            return;
        }
        if (load_pos < load_expected) {
            db_buf[load_pos++] = (uint8_t)((hi << 4) | lo);
            if (load_pos == load_expected) {
                put_str("m-load-done");
                end_line();
                load_expected = 0u;
                return;
            }
        }
    }
}

static int run_once(void)
{
    int status = edgec_model_invoke(input_buf, output_buf);
    if (status != 0) {
        put_str("e-[inference failed with status ");
        put_i64(status);
        put_str("]");
        end_line();
    }
    return status;
}

/* n inferences between two reads of the timer (*start, *stop), each layer's ticks added up by the hook:
 * a function of its own, never inlined into the command loop, so that its code, and the instructions
 * an inference takes, do not depend on the board's code around it (at -Os the loop's exit branch
 * took one instruction more or less as main grew). 0, or the status of an inference that failed. */
static __attribute__((noinline)) int timed_inferences(uint32_t n, uint64_t *start, uint64_t *stop)
{
    *start = edgec_timer_now();
    layer_mark = *start;
    layer_timing = 1;
    for (uint32_t i = 0; i < n; i++) {
        layer_mark = edgec_timer_now();
        const int status = run_once();
        if (status != 0) {
            layer_timing = 0;
            return status;
        }
    }
    *stop = edgec_timer_now();
    layer_timing = 0;
    return 0;
}

static void cmd_infer(char *args)
{
    uint32_t n = 1u;
    uint32_t warmup = 10u;
    char *tok = next_token(&args);
    if (tok && (!parse_uint(tok, &n) || n == 0u)) {
        error_line("Inference iterations must be >0", "");
        return;
    }
    tok = next_token(&args);
    if (tok && !parse_uint(tok, &warmup)) {
        error_line("Warmup iterations must be >=0", "");
        return;
    }
    if (!load_tensor()) {
        return;
    }
    put_str("m-warmup-start-");
    put_u64(warmup);
    end_line();
    for (uint32_t i = 0; i < warmup; i++) {
        if (run_once() != 0) {
            return;
        }
    }
    put_str("m-warmup-done");
    end_line();
    put_str("m-infer-start-");
    put_u64(n);
    end_line();
    for (int i = 0; i < EDGEC_NUM_OPS; i++) {
        layer_ticks[i] = 0u;
    }
    uint64_t start, stop;
    if (timed_inferences(n, &start, &stop) != 0) {
        return;
    }
    /* The two timestamps are those of the timed interval, printed after it (nothing is printed
     * in between): their difference is exactly the ticks edgec-timing reports, in microseconds. */
    lap(start);
    lap(stop);
    timed_ticks = stop - start;
    timed_runs = n;
    put_str("m-infer-done");
    end_line();
    print_results();
}

static void cmd_edgec_raw(void)
{
    put_str("m-edgec-raw-[");
    for (size_t i = 0; i < EDGEC_OUTPUT_BYTES; i++) {
        put_hex8(output_buf[i]);
    }
    put_str("]");
    end_line();
}

static void cmd_edgec_timing(void)
{
    put_str("m-edgec-timing-[ticks=");
    put_u64(timed_ticks);
    put_str(",runs=");
    put_u64(timed_runs);
    put_str(",timer_hz=");
    put_u64(core_hz);
    put_str(",timer=" EDGEC_TIMER_NAME ",core_hz=");
    put_u64(core_hz);
    put_str("]");
    end_line();
}

static void cmd_edgec_layers(void)
{
    for (int i = 0; i < EDGEC_NUM_OPS; i++) {
        put_str("m-edgec-layer-[");
        put_u64((uint64_t)i);
        edgec_uart_putc(',');
        put_str(edgec_model_op_names[i]);
        edgec_uart_putc(',');
        put_u64(layer_ticks[i]);
        put_str("]");
        end_line();
    }
}

static void cmd_edgec_stack(void)
{
    put_str("m-edgec-stack-[used=");
    put_u64(edgec_stack_used_bytes());
    put_str(",size=");
    put_u64(edgec_stack_size_bytes());
    put_str("]");
    end_line();
}

static void cmd_edgec_arena(void)
{
    put_str("m-edgec-arena-[bytes=");
    put_u64(EDGEC_ARENA_BYTES);
    put_str(",input=");
    put_u64(EDGEC_INPUT_BYTES);
    put_str(",output=");
    put_u64(EDGEC_OUTPUT_BYTES);
    put_str("]");
    end_line();
}

/* Plain lines, "command : what it does", as the reference firmware lists its commands. */
static void cmd_help(void)
{
    static const char *const lines[] = {
        "edgec-fw-" EDGEC_FW_VERSION " (MLPerf Tiny / EEMBC protocol; commands end in %)",
        "",
        "help          : this list",
        "name          : the device's name (m-name-dut-[...])",
        "profile       : the firmware and the model or benchmark id (m-profile-[...], m-model-[...])",
        "timestamp     : the timer now, in microseconds (m-lap-us-N)",
        "db load N     : expect N bytes of input",
        "db HEX...     : input bytes, two hex digits each, until N have come",
        "db print      : the bytes loaded, in hex",
        "infer N [W=10]: decode the input, run W untimed then N timed inferences",
        "results       : the results of the last inference (m-results-[...])",
        "edgec-raw     : the last output tensor's bytes, in hex",
        "edgec-timing  : timer ticks of the last timed inferences, the timer's and the core's clocks",
        "edgec-layers  : timer ticks per layer of the last timed inferences",
        "edgec-stack   : stack used and stack size",
        "edgec-arena   : arena, input and output bytes",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        put_str(lines[i]);
        end_line();
    }
}

static void dispatch(char *line)
{
    char *cursor = line;
    char *cmd = next_token(&cursor);
    if (!cmd) {
        error_line("Unknown command: ", "");
    } else if (str_eq(cmd, "name")) {
        put_str("m-name-dut-[edgec " EDGEC_MODEL_NAME "]");
        end_line();
    } else if (str_eq(cmd, "profile")) {
        put_str("m-profile-[" EDGEC_PROFILE);
#if !EDGEC_EMULATED
        put_str(", core clock ");
        put_u64(core_hz);
        put_str(" Hz");
#ifdef EDGEC_RESET_CLOCK_HZ
        if (core_hz == EDGEC_RESET_CLOCK_HZ && core_hz != EDGEC_CORE_CLOCK_HZ) {
            put_str(" (the reset clock: the PLL did not lock)");
        } else if (core_hz != EDGEC_CORE_CLOCK_HZ) {
            put_str(" (below the profile's clock: the silicon revision's or voltage scale's limit)");
        }
#endif
#endif
        put_str("]");
        end_line();
        put_str("m-model-[" EDGEC_MODEL_ID "]");
        end_line();
    } else if (str_eq(cmd, "timestamp")) {
        lap(edgec_timer_now());
    } else if (str_eq(cmd, "db")) {
        cmd_db(cursor);
    } else if (str_eq(cmd, "infer")) {
        cmd_infer(cursor);
    } else if (str_eq(cmd, "results")) {
        print_results();
    } else if (str_eq(cmd, "help")) {
        cmd_help();
    } else if (str_eq(cmd, "edgec-raw")) {
        cmd_edgec_raw();
    } else if (str_eq(cmd, "edgec-timing")) {
        cmd_edgec_timing();
    } else if (str_eq(cmd, "edgec-layers")) {
        cmd_edgec_layers();
    } else if (str_eq(cmd, "edgec-stack")) {
        cmd_edgec_stack();
    } else if (str_eq(cmd, "edgec-arena")) {
        cmd_edgec_arena();
    } else {
        error_line("Unknown command: ", cmd);
    }
    put_str("m-ready");
    end_line();
}

int main(void)
{
    static char line[CMD_MAX + 1u];
    size_t len = 0u;
    int overflow = 0;

    core_hz = edgec_board_init();
    edgec_uart_init(EDGEC_UART_BASE, EDGEC_UART_DIVISOR);
    edgec_timer_init();
    edgec_uart_rx_start();
    put_str("m-timestamp-mode-performance");
    end_line();
    put_str("m-init-done");
    end_line();
    put_str("m-ready");
    end_line();
    for (;;) {
        int c = edgec_uart_getc(); /* sleeps until a byte comes */
        if (c == '\r' || c == '\n') {
            continue;
        }
        if (c == '%') {
            line[len] = '\0';
            if (overflow) {
                error_line("Command too long", "");
                put_str("m-ready");
                end_line();
            } else {
                dispatch(line);
            }
            len = 0u;
            overflow = 0;
        } else if (len < CMD_MAX) {
            line[len++] = (char)c;
        } else {
            overflow = 1;
        }
    }
}
