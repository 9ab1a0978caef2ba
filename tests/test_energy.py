"""The energy estimate (bitwave.energy): the iCE40 UltraPlus model against its source's other
rows, the arithmetic of one estimate, clear errors, and the report's section on a small design."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bitwave.build_folder import BuildManifest
from bitwave.energy import MODELS, EnergyEstimate, estimate_energy, get_model, measure_energy, reestimate
from bitwave.errors import VerifyError
from bitwave.hdl import Resources, StreamFormat
from bitwave.report import update_report

ICE40 = MODELS["ice40up"]
ECP5 = MODELS["ecp5"]


def test_ice40_clock_energy_agrees_with_the_external_clock_row_of_the_same_measurements():
    """The model's clock term comes from the internal-oscillator sweep; the external 12 MHz clock
    with one 28-bit counter (613.5 µA, blank design 85.6 µA, 1.219 V) is an independent row."""
    external_pj = (613.5 - 85.6) * 1.219 / 12
    assert abs(ICE40.clock_pj - external_pj) / external_pj < 0.05
    # a toggle costs far less than a clock cycle of the whole network, and static power is the blank design's
    assert 0 < ICE40.toggle_pj < ICE40.clock_pj / 100
    assert ICE40.static_uw == pytest.approx(85.6 * 1.219)


def test_ecp5_flip_flop_energy_agrees_with_the_per_register_figures_its_source_prints():
    """The source's own table gives 2.1, 5.5 and 25.1 µW per register at 10, 25 and 100 MHz (one
    clock edge and one output toggle per cycle); the model's slope lies within those per-cycle
    energies, and its static power is the data sheet's 212 mA core current at 1.1 V."""
    per_cycle_pj = [2.1 / 10, 5.5 / 25, 25.1 / 100]
    assert min(per_cycle_pj) < ECP5.clock_ff_pj < 1.05 * max(per_cycle_pj)
    assert ECP5.toggle_pj == ECP5.clock_ff_pj and ECP5.clock_pj == 0
    assert ECP5.static_uw == pytest.approx(212 * 1.1 * 1e3)


def test_ecp5_clock_term_grows_with_the_flip_flops():
    kw = dict(cycles_per_frame=64, comb_toggle_rate=0.2, luts=1000, ff_toggles_per_frame=5000,
              memory_reads_per_frame=0, frames_measured=10, clock_mhz=100)
    small, big = estimate_energy(ECP5, ffs=100, **kw), estimate_energy(ECP5, ffs=1000, **kw)
    assert small.clock_nj == pytest.approx(ECP5.clock_ff_pj * 100 * 64 / 1e3)
    assert big.clock_nj == pytest.approx(10 * small.clock_nj) and big.lut_nj == small.lut_nj
    assert big.ffs == 1000 and "0.258 pJ per flip-flop per cycle" in big.model
    # the iCE40 model's clock figure was measured as a whole: flip-flops do not change it
    assert estimate_energy(ICE40, ffs=1000, **kw).clock_nj == estimate_energy(ICE40, ffs=0, **kw).clock_nj


def test_one_activity_count_priced_with_another_family_is_that_family_s_estimate():
    kw = dict(cycles_per_frame=64, comb_toggle_rate=0.2, luts=1000, ff_toggles_per_frame=5000,
              memory_reads_per_frame=3, frames_measured=10, ffs=700)
    on_ice40 = estimate_energy(ICE40, **kw)
    assert reestimate(on_ice40, "ecp5") == estimate_energy(ECP5, **kw)
    assert reestimate(on_ice40, "ecp5", clock_mhz=50).clock_mhz == 50


def test_one_estimate_adds_clock_lut_ff_and_static_terms():
    e = estimate_energy(ICE40, cycles_per_frame=100, comb_toggle_rate=0.25, luts=40, ff_toggles_per_frame=300,
                        memory_reads_per_frame=7, frames_measured=10, clock_mhz=10)
    assert e.lut_toggles_per_frame == 0.25 * 40 * 100
    assert e.clock_nj == pytest.approx(ICE40.clock_pj * 100 / 1e3)
    assert e.lut_nj == pytest.approx(ICE40.toggle_pj * 1000 / 1e3)
    assert e.ff_nj == pytest.approx(ICE40.toggle_pj * 300 / 1e3)
    assert e.static_nj == pytest.approx(ICE40.static_uw * 10 / 1e3)      # 100 cycles at 10 MHz: 10 µs
    assert e.nj_per_frame == pytest.approx(e.clock_nj + e.lut_nj + e.ff_nj + e.static_nj)
    faster = estimate_energy(ICE40, cycles_per_frame=100, comb_toggle_rate=0.25, luts=40, ff_toggles_per_frame=300,
                             memory_reads_per_frame=7, frames_measured=10, clock_mhz=20)
    assert faster.static_nj == pytest.approx(e.static_nj / 2) and faster.dynamic_nj == e.dynamic_nj
    assert e.line().startswith(f"energy (estimate, ice40up model): {e.nj_per_frame:.2f} nJ/frame (dynamic ")
    assert EnergyEstimate(**e.as_dict()) == e


def test_a_family_without_figures_and_a_zero_clock_are_refused():
    with pytest.raises(VerifyError, match=r"^energy: no energy model for family 'gowin' .*use one of: ecp5, ice40up$"):
        get_model("gowin")
    with pytest.raises(VerifyError, match=r"^energy: the clock must be above 0 MHz, not 0"):
        estimate_energy(ICE40, cycles_per_frame=1, comb_toggle_rate=0, luts=1, ff_toggles_per_frame=0,
                        memory_reads_per_frame=0, frames_measured=1, clock_mhz=0)


@pytest.mark.sim
def test_a_small_build_gets_its_energy_section_in_the_report(tmp_path):
    spec = importlib.util.spec_from_file_location("_act", Path(__file__).resolve().parent / "sim" / "test_activity.py")
    act = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(act)
    (tmp_path / "bitwave_top.v").write_text(act.TINY)
    fmt = StreamFormat(elems=1, width=4)
    manifest = BuildManifest(name="tiny", sink=fmt, source=fmt, ports=(), cycles_per_frame=1, latency=1,
                             pipeline=(), layers=(), estimate=Resources(lut=4, ff=5))
    manifest.save(tmp_path)
    est = measure_energy(tmp_path, manifest, np.array([[0], [15]] * 6), "ice40up")
    # 12 frames in 13 cycles; 46 flip-flop toggles; the 4 comb bits flip 44 times in 13 cycles
    assert est.cycles_per_frame == pytest.approx(13 / 12) and est.ff_toggles_per_frame == pytest.approx(46 / 12)
    assert est.comb_toggle_rate == pytest.approx(44 / (4 * 13)) and est.memory_reads_per_frame == 1
    update_report(tmp_path, "energy", est.as_dict())
    text = (tmp_path / "report.md").read_text()
    assert f"## Energy (estimate)\n\n- **{est.nj_per_frame:.2f} nJ/frame, estimated** (ice40up model, 12 MHz)" in text
    assert "1 block-RAM reads/frame (not costed)" in text


def test_an_unknown_family_is_refused_before_anything_is_loaded_or_simulated(tmp_path):
    from bitwave.verify import verify_build
    with pytest.raises(VerifyError, match=r"^energy: no energy model for family 'gowin'"):
        verify_build(tmp_path / "not-built-yet", energy="gowin")


@pytest.mark.slow
@pytest.mark.sim
def test_verify_energy_on_a_compiled_binary_mlp_prints_and_reports_the_estimate(tmp_path, capsys):
    """`bitwave verify --energy ice40up` on the 1-bit MLP of the unrolled tests, folded: its 40
    samples are repeated to 200 frames; the printed line and report.json agree."""
    import json

    from bitwave.cli import main
    spec = importlib.util.spec_from_file_location(
        "_unrolled", Path(__file__).resolve().parent / "e2e" / "test_unrolled_e2e.py")
    unrolled = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(unrolled)
    (tmp_path / "models.py").write_text(unrolled.MODELS)
    out = tmp_path / "binary"
    main(["compile", f"{tmp_path / 'models.py'}:binary", "-o", str(out), "--target-cycles", "8"])
    capsys.readouterr()
    try:
        main(["verify", str(out), "--energy", "ice40up", "--clock-mhz", "24"])
    except SystemExit as e:
        assert e.code in (0, None)
    text = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    e = report["energy"]
    assert report["rtl"]["mismatches"] == 0 and e["frames_measured"] == 200 and e["clock_mhz"] == 24
    assert f"energy (estimate, ice40up model): {e['nj_per_frame']:.2f} nJ/frame" in " ".join(text.split())
    assert e["luts"] == BuildManifest.load(out).estimate.lut and e["ff_toggles_per_frame"] > 0
    assert "nJ/frame, estimated** (ice40up model, 24 MHz)" in (out / "report.md").read_text()
