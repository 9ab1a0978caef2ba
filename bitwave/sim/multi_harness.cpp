// Streams every design of a bundle (class Vtop) at once, each with its own random stalls.
//
//   multi_harness IN OUT MAX_CYCLES DRAIN
//
// IN holds, per design, a header (input beats, expected output beats, stall
// seed, input-valid and output-ready stall probabilities) and then every
// design's input words, one beat after another; OUT gets, per design, (beats
// sent, expected beats received, extra beats, done cycle) and then the output
// beats.  The harness knows beats only (a frame of several beats is the
// caller's business, as in stream_harness.cpp).  After the last expected
// output every design is clocked DRAIN more cycles with ready high, so that a
// duplicated beat shows up as "extra".
//
// multi_designs.h (generated per build) defines BW_K designs, their payload
// words BW_IN_WORDS and BW_OUT_WORDS (lists of K numbers) and BW_DESIGNS(X),
// which expands X(0) ... X(K-1): the ports of design k are named m<k>_sink and
// m<k>_source, so each one is reached by token pasting at compile time.
// Verilator escapes the double underscore of m0_sink__payload as "___05F".
#include "Vtop.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>
#include "harness_io.h"
#include "multi_designs.h"

struct Stream {
    uint64_t n_in = 0, n_out = 0, sent = 0, recv = 0, extra = 0, done = 0;
    double p_in = 0, p_out = 0;
    std::mt19937_64 rng;
    bool in_valid = false, out_ready = false, fire = false;
    int in_words = 0, out_words = 0;
    std::vector<uint32_t> in, out;
};

static const int K = BW_K;
static const int IN_WORDS[K] = {BW_IN_WORDS};
static const int OUT_WORDS[K] = {BW_OUT_WORDS};

// Design k, before the falling edge: offer its next beat and choose its output ready.
#define BW_DRIVE(k)                                                                       \
{ Stream& s = st[k];                                                                      \
  if (!s.in_valid && s.sent < s.n_in && !(s.p_in > 0 && uni(s.rng) < s.p_in)) {              \
      s.in_valid = true; put(top.m##k##_sink___05Fpayload, &s.in[s.sent * s.in_words]); } \
  s.out_ready = draining || !(s.p_out > 0 && uni(s.rng) < s.p_out);                       \
  top.m##k##_sink___05Fvalid = s.in_valid; top.m##k##_source___05Fready = s.out_ready; }

// Design k, after the falling edge: note the handshakes of this cycle.
#define BW_SAMPLE(k)                                                         \
{ Stream& s = st[k];                                                         \
  s.fire = s.in_valid && top.m##k##_sink___05Fready;                         \
  if (top.m##k##_source___05Fvalid && s.out_ready) {                         \
      if (s.recv < s.n_out) {                                                \
          get(top.m##k##_source___05Fpayload, &s.out[s.recv * s.out_words]); \
          if (++s.recv == s.n_out) { s.done = cycle; pending--; }            \
      } else { s.extra++; }                                                  \
  } }

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s IN OUT MAX_CYCLES DRAIN\n", argv[0]);
        return 2;
    }
    const uint64_t max_cycles = std::strtoull(argv[3], nullptr, 10);
    const uint64_t drain = std::strtoull(argv[4], nullptr, 10);
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    std::vector<Stream> st(K);
    FILE* f = std::fopen(argv[1], "rb");
    if (!f) { std::fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    for (int k = 0; k < K; k++) {
        Stream& s = st[k];
        s.in_words = IN_WORDS[k];
        s.out_words = OUT_WORDS[k];
        uint64_t seed = 0;
        if (std::fread(&s.n_in, 8, 1, f) != 1 || std::fread(&s.n_out, 8, 1, f) != 1
            || std::fread(&seed, 8, 1, f) != 1
            || std::fread(&s.p_in, 8, 1, f) != 1 || std::fread(&s.p_out, 8, 1, f) != 1) {
            std::fprintf(stderr, "truncated header in %s\n", argv[1]);
            return 2;
        }
        s.rng.seed(seed);
    }
    for (int k = 0; k < K; k++) {
        Stream& s = st[k];
        s.in.resize(s.n_in * s.in_words);
        s.out.resize(s.n_out * s.out_words);
        if (std::fread(s.in.data(), 4, s.in.size(), f) != s.in.size()) {
            std::fprintf(stderr, "truncated data for design %d in %s\n", k, argv[1]);
            return 2;
        }
    }
    std::fclose(f);

    VerilatedContext ctx;
    Vtop top(&ctx);
    top.rst = 1;
    for (int i = 0; i < 4; i++) { top.clk = 0; top.eval(); top.clk = 1; top.eval(); }
    top.rst = 0;

    uint64_t cycle = 0, pending = 0;
    for (int k = 0; k < K; k++) pending += st[k].n_out > 0;
    uint64_t stop = max_cycles;
    bool draining = false;
    while (cycle < stop) {
        if (!draining && pending == 0) { draining = true; stop = cycle + drain; }
        BW_DESIGNS(BW_DRIVE)
        top.clk = 0; top.eval();
        BW_DESIGNS(BW_SAMPLE)
        top.clk = 1; top.eval();
        for (int k = 0; k < K; k++) {
            Stream& s = st[k];
            if (s.fire) { s.in_valid = false; s.sent++; }
        }
        cycle++;
    }
    top.final();
    f = std::fopen(argv[2], "wb");
    if (!f) { std::fprintf(stderr, "cannot write %s\n", argv[2]); return 2; }
    for (int k = 0; k < K; k++) {
        Stream& s = st[k];
        uint64_t head[4] = {s.sent, s.recv, s.extra, s.done};
        std::fwrite(head, 8, 4, f);
    }
    for (int k = 0; k < K; k++) std::fwrite(st[k].out.data(), 4, st[k].recv * st[k].out_words, f);
    std::fclose(f);
    std::printf("{\"cycles\": %llu}\n", (unsigned long long)cycle);
    return 0;
}
