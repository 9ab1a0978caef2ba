// A stereo I2S codec (an ADC and a DAC in slave mode, as on a Pmod I2S2) on the pins of a
// Verilated I2S master (class Vtop), clock by clock.
//
//   i2s_harness MCLK_PER_LRCK ADC_IN DAC_OUT FRAMES_OUT MAX_CYCLES
//
// The design's clock is the codecs' MCLK. Ports: clk, rst, sclk, lrck, dac_sdata (out),
// adc_sdata (in), dropped, missed, overrun. ADC_IN holds the ADC's samples as int32
// pairs (left, right), 24-bit two's complement; frame f of the bus (counted from the
// first LRCK falling edge after reset, or the low LRCK seen right after it) carries
// pair f, and zeros once they run out. The ADC changes its data line one clock after
// each SCLK falling edge; both codecs take bit k of a channel's word (MSB first) in
// bit cell k + 1 after the LRCK edge, k < 24. The DAC side samples the design's data
// on SCLK rising edges and writes each completed frame as an int32 pair to DAC_OUT.
// The bus is checked as a codec would need it: every LRCK period MCLK_PER_LRCK
// clocks with 64 SCLK rising edges, and LRCK changing only with SCLK falling.
// Runs until FRAMES_OUT DAC frames are recorded or MAX_CYCLES; prints one JSON line.
#include "Vtop.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

static const int WORD_BITS = 24;

static int32_t sign_extend(uint32_t word) {
    word &= (1u << WORD_BITS) - 1;
    return (word >> (WORD_BITS - 1)) ? static_cast<int32_t>(word) - (1 << WORD_BITS)
                                     : static_cast<int32_t>(word);
}

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s MCLK_PER_LRCK ADC_IN DAC_OUT FRAMES_OUT MAX_CYCLES\n", argv[0]);
        return 2;
    }
    const uint64_t ratio = std::strtoull(argv[1], nullptr, 10);
    const size_t frames_out = std::strtoull(argv[4], nullptr, 10);
    const uint64_t max_cycles = std::strtoull(argv[5], nullptr, 10);
    std::vector<int32_t> adc;
    FILE* f = std::fopen(argv[2], "rb");
    if (!f) { std::perror(argv[2]); return 2; }
    int32_t buf[2];
    while (std::fread(buf, 4, 2, f) == 2) { adc.push_back(buf[0]); adc.push_back(buf[1]); }
    std::fclose(f);
    const size_t frames_in = adc.size() / 2;

    VerilatedContext ctx;
    Vtop top(&ctx);
    top.clk = 0; top.rst = 1; top.adc_sdata = 0;
    top.eval();
    for (int i = 0; i < 4; i++) {
        top.clk = 1; top.eval(); top.clk = 0; top.eval();
    }
    top.rst = 0;

    // The bus as both codecs see it: which half, which cell since the LRCK edge.
    int prev_sclk = 1, prev_lrck = 1;       // so the first low SCLK/LRCK after reset starts frame 0
    bool started = false;
    int half = 0;
    int cell = 0;
    long frame = -1;
    // ADC: the bit it will drive from the next clock on.
    int adc_line = 0, adc_next = 0;
    uint32_t adc_word = 0;
    // DAC: bits of the current channel, the left word of the current frame.
    uint32_t dac_shift = 0;
    int32_t dac_left = 0;
    std::vector<int32_t> dac;
    // Bus checks.
    uint64_t last_frame_cycle = 0, bus_errors = 0;
    int rises = 0;

    uint64_t cycle = 0;
    for (; cycle < max_cycles && dac.size() < 2 * frames_out; ++cycle) {
        // The pins in this clock cycle (set by the last edge), then the ADC's line for it.
        const int sclk = top.sclk, lrck = top.lrck, sdin = top.dac_sdata;
        adc_line = adc_next;
        if (lrck != prev_lrck && !(prev_sclk && !sclk)) bus_errors++;   // LRCK off a falling edge
        if (!prev_sclk && sclk) {
            rises++;
            if (started && cell >= 1 && cell <= WORD_BITS) dac_shift = (dac_shift << 1) | sdin;
        }
        if (prev_sclk && !sclk) {
            if (lrck != prev_lrck || !started) {
                // A new half: the DAC's last word is complete.
                if (started) {
                    if (half == 0) dac_left = sign_extend(dac_shift);
                    else { dac.push_back(dac_left); dac.push_back(sign_extend(dac_shift)); }
                }
                if (lrck == 0) {
                    if (started && (cycle - last_frame_cycle != ratio || rises != 64)) bus_errors++;
                    last_frame_cycle = cycle;
                    rises = 0;
                    frame++;
                }
                started = true;
                half = lrck;
                cell = 0;
                dac_shift = 0;
                const size_t i = static_cast<size_t>(frame) * 2 + half;
                adc_word = (frame >= 0 && i < adc.size()) ? static_cast<uint32_t>(adc[i]) : 0;
            } else {
                cell++;
            }
            adc_next = (cell >= 1 && cell <= WORD_BITS) ? (adc_word >> (WORD_BITS - cell)) & 1 : 0;
        }
        prev_sclk = sclk;
        prev_lrck = lrck;
        top.adc_sdata = adc_line;
        top.clk = 1; top.eval(); top.clk = 0; top.eval();
    }
    top.final();

    FILE* out = std::fopen(argv[3], "wb");
    if (!out) { std::perror(argv[3]); return 2; }
    std::fwrite(dac.data(), 4, dac.size(), out);
    std::fclose(out);
    std::printf("{\"cycles\": %llu, \"frames_in\": %zu, \"frames_out\": %zu, \"bus_errors\": %llu, "
                "\"dropped\": %u, \"missed\": %u, \"overrun\": %u}\n",
                static_cast<unsigned long long>(cycle), frames_in, dac.size() / 2,
                static_cast<unsigned long long>(bus_errors), static_cast<unsigned>(top.dropped),
                static_cast<unsigned>(top.missed), static_cast<unsigned>(top.overrun));
    return 0;
}
