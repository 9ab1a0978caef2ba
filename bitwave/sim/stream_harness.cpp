// Streams a dataset through one Verilated stream design (class Vtop) at full speed.
//
//   stream_harness IN OUT N_IN N_OUT STALL_IN STALL_OUT SEED MAX_CYCLES TRACE|-
//
// Reads N_IN beats of BW_IN_WORDS 32-bit words from IN, drives them into the
// design's sink with random input-valid stalls (probability STALL_IN) and takes
// N_OUT beats from its source with random output-ready stalls (STALL_OUT), then
// writes the output beats (BW_OUT_WORDS words each) and the cycle of each output
// handshake to OUT and prints the run's statistics as one JSON line.  The
// harness knows beats only; the caller groups them into frames.  harness_config.h
// (generated per build) defines BW_IN_WORDS and BW_OUT_WORDS; BW_TRACE=1 builds
// write a VCD to TRACE.  Verilator escapes the double underscore of port names
// such as sink__payload as "___05F".
#include "Vtop.h"
#include "verilated.h"
#include "Vtop___024root.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "harness_config.h"
#include "harness_io.h"
#if BW_TRACE
#include "verilated_vcd_c.h"
#endif

int main(int argc, char** argv) {
    if (argc < 10) {
        std::fprintf(stderr, "usage: %s IN OUT N_IN N_OUT STALL_IN STALL_OUT SEED MAX_CYCLES TRACE|-\n",
                     argv[0]);
        return 2;
    }
    const char* in_path = argv[1];
    const char* out_path = argv[2];
    const size_t n_in = std::strtoull(argv[3], nullptr, 10);
    const size_t n_out = std::strtoull(argv[4], nullptr, 10);
    const double p_in = std::atof(argv[5]);
    const double p_out = std::atof(argv[6]);
    std::mt19937_64 rng(std::strtoull(argv[7], nullptr, 10));
    const uint64_t max_cycles = std::strtoull(argv[8], nullptr, 10);
    std::vector<uint32_t> in(n_in * BW_IN_WORDS), out(n_out * BW_OUT_WORDS);
    std::vector<uint64_t> stamps(n_out, 0);
    FILE* f = std::fopen(in_path, "rb");
    if (!f || std::fread(in.data(), 4, in.size(), f) != in.size()) {
        std::fprintf(stderr, "cannot read %zu beats from %s\n", n_in, in_path);
        return 2;
    }
    std::fclose(f);
    std::uniform_real_distribution<double> uni(0.0, 1.0);

    VerilatedContext ctx;
    Vtop top(&ctx);
#if BW_TRACE
    VerilatedVcdC* tfp = nullptr;
    if (argv[9][0] != '-') {
        ctx.traceEverOn(true);
        tfp = new VerilatedVcdC;
        top.trace(tfp, 99);
        tfp->open(argv[9]);
    }
#endif
    uint64_t t = 0;
    // One clock edge: evaluate, then dump the trace (when tracing) at time t.
    auto edge = [&](int clk) {
        top.clk = clk; top.eval();
#if BW_TRACE
        if (tfp) tfp->dump(t);
#endif
        t++;
    };
    auto tick = [&](void) { edge(0); edge(1); };
    top.rst = 1; top.sink___05Fvalid = 0; top.source___05Fready = 0;
    for (int i = 0; i < 4; i++) tick();
    top.rst = 0;

    uint64_t cycle = 0, first_in = 0;
    size_t sent = 0, recv = 0;
    bool in_valid = false;
#if !BW_TRACE
    if (p_in <= 0 && p_out <= 0) {
        // Fast path without stalls: one eval per cycle. The handshake outputs are
        // read as settled by the previous eval, which is exact for designs whose
        // ready/valid/payload outputs depend on registers only (all bitwave stages
        // have skid buffers). Were that assumption wrong, frames would be lost or
        // repeated, which the caller sees as missing frames or mismatches, never as
        // a false pass. Verilator detects the clock edge against its stored previous
        // clk, so that is reset instead of evaluating the design at clk = 0.
        top.source___05Fready = 1;
        top.clk = 0; top.eval();
        while (recv < n_out && cycle < max_cycles) {
            if (!in_valid && sent < n_in) {
                in_valid = true;
                put(top.sink___05Fpayload, &in[sent * BW_IN_WORDS]);
            }
            const bool in_fire = in_valid && top.sink___05Fready;
            if (top.source___05Fvalid) {
                get(top.source___05Fpayload, &out[recv * BW_OUT_WORDS]);
                stamps[recv++] = cycle;
            }
            top.sink___05Fvalid = in_valid;
            top.rootp->__Vtrigprevexpr___TOP__clk__0 = 0;
            top.clk = 1;
            top.eval();
            if (in_fire) {
                if (sent == 0) first_in = cycle;
                in_valid = false;
                sent++;
            }
            cycle++;
        }
    }
#endif
    while (recv < n_out && cycle < max_cycles) {
        if (!in_valid && sent < n_in && !(p_in > 0 && uni(rng) < p_in)) {
            in_valid = true;
            put(top.sink___05Fpayload, &in[sent * BW_IN_WORDS]);
        }
        const bool out_ready = !(p_out > 0 && uni(rng) < p_out);
        top.sink___05Fvalid = in_valid;
        top.source___05Fready = out_ready;
        edge(0);
        const bool in_fire = in_valid && top.sink___05Fready;
        if (top.source___05Fvalid && out_ready) {
            get(top.source___05Fpayload, &out[recv * BW_OUT_WORDS]);
            stamps[recv++] = cycle;
        }
        edge(1);
        if (in_fire) {
            if (sent == 0) first_in = cycle;
            in_valid = false;
            sent++;
        }
        cycle++;
    }
#if BW_TRACE
    if (tfp) { tfp->close(); delete tfp; }
#endif
    top.final();
    f = std::fopen(out_path, "wb");
    if (!f) { std::fprintf(stderr, "cannot write %s\n", out_path); return 2; }
    std::fwrite(out.data(), 4, recv * BW_OUT_WORDS, f);
    std::fwrite(stamps.data(), 8, recv, f);
    std::fclose(f);
    std::printf("{\"cycles\": %llu, \"sent\": %zu, \"received\": %zu, \"first_in\": %llu}\n",
                (unsigned long long)cycle, sent, recv, (unsigned long long)first_in);
    return 0;
}
