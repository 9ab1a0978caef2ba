// Counts switching activity: streams beats through a design built with
// Verilator's --coverage-toggle and writes the toggle counts of the steady run.
//
//   activity_harness IN N_IN N_OUT COVERAGE_OUT
//
// Reads N_IN beats of BW_IN_WORDS 32-bit words from IN, feeds them to the sink
// with input valid high whenever a beat is waiting and output ready always high,
// until N_OUT beats came out. The toggle counters are zeroed after reset, so
// COVERAGE_OUT (Verilator's coverage.dat format) holds the run's toggles only.
// It prints {"cycles": C, "received": R} as one JSON line. The stream harness
// is not used for this: its build (and so every test's cache key) stays as is.
#include "Vtop.h"
#include "verilated.h"
#include "verilated_cov.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "harness_config.h"
#include "harness_io.h"

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s IN N_IN N_OUT COVERAGE_OUT\n", argv[0]);
        return 2;
    }
    const size_t n_in = std::strtoull(argv[2], nullptr, 10);
    const size_t n_out = std::strtoull(argv[3], nullptr, 10);
    std::vector<uint32_t> in(n_in * BW_IN_WORDS), beat(BW_OUT_WORDS + 2);
    FILE* f = std::fopen(argv[1], "rb");
    if (!f || std::fread(in.data(), 4, in.size(), f) != in.size()) {
        std::fprintf(stderr, "cannot read %zu beats from %s\n", n_in, argv[1]);
        return 2;
    }
    std::fclose(f);
    VerilatedContext ctx;
    Vtop top(&ctx);
    auto tick = [&](void) { top.clk = 0; top.eval(); top.clk = 1; top.eval(); };
    top.rst = 1; top.sink___05Fvalid = 0; top.source___05Fready = 1;
    for (int i = 0; i < 4; i++) tick();
    top.rst = 0;
    top.clk = 0; top.eval();
    ctx.coveragep()->zero();
    const uint64_t max_cycles = 1000000ull * (n_in + 1);
    uint64_t cycle = 0;
    size_t sent = 0, recv = 0;
    while (recv < n_out && cycle < max_cycles) {
        const bool in_valid = sent < n_in;
        if (in_valid) put(top.sink___05Fpayload, &in[sent * BW_IN_WORDS]);
        top.sink___05Fvalid = in_valid;
        top.eval();
        const bool in_fire = in_valid && top.sink___05Fready;
        if (top.source___05Fvalid) {
            get(top.source___05Fpayload, beat.data());
            recv++;
        }
        top.clk = 1; top.eval();
        top.clk = 0; top.eval();
        if (in_fire) sent++;
        cycle++;
    }
    top.final();
    ctx.coveragep()->write(argv[4]);
    std::printf("{\"cycles\": %llu, \"received\": %zu}\n", (unsigned long long)cycle, recv);
    return 0;
}
