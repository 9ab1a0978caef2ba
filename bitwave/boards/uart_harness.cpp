// A host on a simulated serial line, driving the Verilated UART wrapper (class Vtop).
//
//   uart_harness DIVISOR IN_BYTES OUT_BYTES WINDOW FRAMES_IN RESULTS_OUT MAX_CYCLES
//
// Sends each IN_BYTES-byte frame of FRAMES_IN as 8N1 characters on `rx` (DIVISOR
// clocks per bit, back to back), never more than WINDOW frames ahead of the
// results, decodes the characters the design sends on `tx` and writes them to
// RESULTS_OUT.  Prints "cycles=N frames=M overrun=B" and exits 0 when every
// result arrived, 2 on MAX_CYCLES, 3 when the design flagged an overrun.
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

static std::vector<uint8_t> read_file(const char *path) {
    std::vector<uint8_t> data;
    FILE *f = std::fopen(path, "rb");
    if (!f) { std::perror(path); std::exit(1); }
    int c;
    while ((c = std::fgetc(f)) != EOF) data.push_back(static_cast<uint8_t>(c));
    std::fclose(f);
    return data;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: %s DIVISOR IN_BYTES OUT_BYTES WINDOW FRAMES_IN RESULTS_OUT "
                             "MAX_CYCLES\n", argv[0]);
        return 1;
    }
    const long divisor = std::atol(argv[1]);
    const long in_bytes = std::atol(argv[2]);
    const long out_bytes = std::atol(argv[3]);
    const long window = std::atol(argv[4]);
    const std::vector<uint8_t> frames = read_file(argv[5]);
    const char *results_path = argv[6];
    const long long max_cycles = std::atoll(argv[7]);
    const long n_frames = static_cast<long>(frames.size()) / in_bytes;

    VerilatedContext ctx;
    Vtop top{&ctx};
    top.rx = 1;
    top.rst = 1;
    top.clk = 0;
    top.eval();

    // Host transmitter: a 10-bit character in flight, one level per DIVISOR clocks.
    long next_byte = 0, tx_bit = -1, tx_timer = 0;
    uint16_t tx_char = 0;
    // Host receiver: wait for a start bit, sample each bit in its middle.
    long rx_bit = -1, rx_timer = 0;
    uint8_t rx_shift = 0;
    std::vector<uint8_t> results;
    bool overrun = false;

    long long cycle = 0;
    for (; cycle < max_cycles; ++cycle) {
        if (cycle == 4) top.rst = 0;
        const long frames_done = static_cast<long>(results.size()) / out_bytes;
        if (results.size() >= static_cast<size_t>(n_frames * out_bytes)) break;

        // Drive rx for this cycle.
        if (tx_bit < 0 && cycle > 8 && next_byte < static_cast<long>(frames.size())
                && next_byte / in_bytes < frames_done + window) {
            tx_char = static_cast<uint16_t>((frames[next_byte++] << 1) | 0x200);
            tx_bit = 0;
            tx_timer = divisor;
        }
        top.rx = tx_bit < 0 ? 1 : (tx_char >> tx_bit) & 1;

        top.clk = 1;
        top.eval();
        top.clk = 0;
        top.eval();

        if (tx_bit >= 0 && --tx_timer == 0) {
            tx_timer = divisor;
            if (++tx_bit == 10) tx_bit = -1;
        }
        const int line = top.tx;
        if (rx_bit < 0) {
            if (!line) { rx_bit = 0; rx_timer = divisor / 2; }
        } else if (--rx_timer == 0) {
            rx_timer = divisor;
            if (rx_bit == 0) {
                if (line) rx_bit = -1;                      // glitch
                else rx_bit = 1;
            } else if (rx_bit <= 8) {
                rx_shift = static_cast<uint8_t>((rx_shift >> 1) | (line << 7));
                ++rx_bit;
            } else {
                if (line) results.push_back(rx_shift);    // stop bit high: a good character
                else std::fprintf(stderr, "framing error at cycle %lld\n", cycle);
                rx_bit = -1;
            }
        }
        if (top.overrun) overrun = true;
    }
    top.final();

    FILE *f = std::fopen(results_path, "wb");
    if (!f) { std::perror(results_path); return 1; }
    std::fwrite(results.data(), 1, results.size(), f);
    std::fclose(f);
    std::printf("cycles=%lld frames=%ld overrun=%d\n", cycle,
                static_cast<long>(results.size()) / out_bytes, overrun ? 1 : 0);
    if (overrun) return 3;
    return results.size() >= static_cast<size_t>(n_frames * out_bytes) ? 0 : 2;
}
