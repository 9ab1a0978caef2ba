// Payload words in and out of Verilated ports, shared by bitwave's stream harnesses.
//
// Verilator stores a port in CData/SData/IData/QData or VlWide<N> by its width;
// the harnesses hold every payload as little-endian 32-bit words (the layout of
// StreamFormat.pack_words), so put/get convert between the two for any width.
#pragma once
#include <cstddef>
#include <cstdint>
#include "verilated.h"

static void put(CData& p, const uint32_t* w) { p = (CData)w[0]; }
static void put(SData& p, const uint32_t* w) { p = (SData)w[0]; }
static void put(IData& p, const uint32_t* w) { p = w[0]; }
static void put(QData& p, const uint32_t* w) { p = ((QData)w[1] << 32) | w[0]; }
template <std::size_t N> static void put(VlWide<N>& p, const uint32_t* w) {
    for (std::size_t i = 0; i < N; i++) p[i] = w[i];
}
static void get(CData p, uint32_t* w) { w[0] = p; }
static void get(SData p, uint32_t* w) { w[0] = p; }
static void get(IData p, uint32_t* w) { w[0] = p; }
static void get(QData p, uint32_t* w) { w[0] = (uint32_t)p; w[1] = (uint32_t)(p >> 32); }
template <std::size_t N> static void get(const VlWide<N>& p, uint32_t* w) {
    for (std::size_t i = 0; i < N; i++) w[i] = p[i];
}
