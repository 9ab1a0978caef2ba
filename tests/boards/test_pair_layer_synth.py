"""`bench/boards_bench.py --pair-layer`: Yosys on one unit shaped like TFC's 8-bit first
layer (±1 weights, 8-bit input in slice beats), the counts used to split its cost per PE."""

import pytest


@pytest.mark.slow
def test_pair_layer_counts_grow_with_the_pes_and_include_the_carry_chains(bench_module):
    bench = bench_module("boards_bench")
    two = bench.synth_pair_layer(4, 16, 2, 4, family="ecp5")
    four = bench.synth_pair_layer(8, 16, 4, 4, family="ecp5")
    for row in (two, four):
        assert row["CCU2C"] > 0                   # pair sums and adder trees on carry chains
        assert row["LUT4-eq"] >= 2 * row["CCU2C"]
        assert row["FF"] > 0
    # two more PEs: their pair terms and trees, the shared pair sums stay
    assert four["LUT4-eq"] > two["LUT4-eq"]
    assert four["CCU2C"] > two["CCU2C"]
    assert four["unit"].startswith("i8 ±1 8x16 pe4 simd4")
