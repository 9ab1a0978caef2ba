"""Energy per frame, estimated from counted switching activity and a per-family model.

No open tool measures an FPGA's power, so this is an estimate, and says so. It
adds four terms per frame:

- **clock**: the clock network's energy per cycle × cycles per frame, plus (for a model
  that prices it) each flip-flop's share of the clock × the design's flip-flops × cycles;
- **LUT outputs**: (toggles per combinational RTL bit per cycle, counted in
  Verilator) × the design's LUT count × cycles per frame × energy per toggle —
  RTL wires are not LUTs one for one, so their toggle *rate* is what is carried
  over to the LUTs;
- **flip-flops**: flip-flop output toggles counted in Verilator × energy per toggle;
- **static**: the configured device's static power × the frame's time at the clock.

Block-RAM reads are counted and reported but not costed: no published figure
for them was found (``docs/boards.md``, "Energy (estimated)").

A model's coefficients are derived here, in code, from the published
measurements it names, so that every number can be traced to its source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .build_folder import BuildManifest
from .errors import VerifyError
from .sim._activity import measure_activity

__all__ = ["EnergyModel", "EnergyEstimate", "MODELS", "get_model", "estimate_energy", "measure_energy", "reestimate"]


def _slope(xs, ys) -> float:
    """Least-squares slope of ys over xs."""
    return float(np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)[0])


@dataclass(frozen=True)
class EnergyModel:
    """Energy coefficients of one FPGA family, and where they come from."""
    family: str
    device: str
    clock_pj: float          # per clock cycle (clock network)
    toggle_pj: float         # per toggle of a LUT or flip-flop output
    static_uw: float         # configured, idle core
    clock_mhz: float         # the clock the figures were taken at (the default)
    source: str
    clock_ff_pj: float = 0.0  # per flip-flop per clock cycle (its share of the clock network)

    def describe(self) -> str:
        clock = [f"{self.clock_pj:.1f} pJ/cycle"] if self.clock_pj or not self.clock_ff_pj else []
        clock += [f"{self.clock_ff_pj:.3f} pJ per flip-flop per cycle"] if self.clock_ff_pj else []
        return (f"{self.family} model ({self.device}): clock {' + '.join(clock)}, "
                f"{self.toggle_pj:.3f} pJ per LUT/FF output toggle, static "
                + (f"{self.static_uw / 1e3:.1f} mW" if self.static_uw >= 1e3 else f"{self.static_uw:.1f} µW"))


def _ice40up() -> EnergyModel:
    """iCE40 UltraPlus (UP5K) from tinyvision.ai's core-rail measurements (Joulescope JS110, 1.219 V).

    - static: the configured blank design draws 85.6 µA;
    - clock: a 24-bit counter on the internal oscillator at 6, 12, 24, 48 MHz draws
      388.4, 645, 1162, 2184 µA: the slope per MHz × V is the energy per cycle;
    - toggle: 1, 2, 4, 8 28-bit counters on an external 12 MHz clock draw 613.5, 616.65,
      624.2, 641.3 µA: the slope per counter / 12 MHz × V is one counter's energy per
      cycle; a binary counter flips 2 bits per cycle on average, each flip moving one
      flip-flop output and the LUT output feeding it, so 4 toggles per counter per cycle.
    """
    volts = 1.219
    static_ua = 85.6
    clock_ua_per_mhz = _slope([6, 12, 24, 48], [388.4, 645, 1162, 2184])
    counter_ua = _slope([1, 2, 4, 8], [613.5, 616.65, 624.2, 641.3])
    counter_pj = counter_ua * volts / 12.0          # µA·V / MHz = pJ per cycle
    return EnergyModel(
        family="ice40up", device="iCE40 UltraPlus UP5K", clock_pj=clock_ua_per_mhz * volts,
        toggle_pj=counter_pj / 4, static_uw=static_ua * volts, clock_mhz=12.0,
        source="tinyvision-ai-inc/ice40_power (README, core rail at 1.219 V, iCE40 UltraPlus breakout board)")


def _ecp5() -> EnergyModel:
    """ECP5 LFE5U-85F, from Lattice's data sheet (static) and targeted/fpga-reg-power (dynamic).

    - static: the ECP5 data sheet (DS1044, "Supply Current (Static)": typical, blank
      configuration, 0 Hz) gives the core rail (VCC, 1.1 V) current: 77 mA for the LFE5U-12F/25F,
      212 mA for the LFE5U-85F; 212 mA × 1.1 V. Only the core rail, as in the iCE40 model
      (VCCAUX, 16 mA at 2.5 V on the 25F, is left out).
    - dynamic: a ULX3S (LFE5U-85F-6BG381C) with all 83,640 flip-flops in one shift chain fed a
      signal that flips every cycle, so every flip-flop toggles every cycle, measured at the
      board's USB input at 10, 25 and 100 MHz (PLL output): V × A minus the board held in reset
      (0.202 W; in the source's published board top, reset also holds the PLL: no clock). The least-squares slope over the three clocks / 83,640 is
      the energy of one flip-flop-cycle: a clock edge at the flip-flop, one toggle of its output
      and the short route to the next flip-flop (and the board regulators' losses).
    - no published figure splits that energy between the clock and the toggle, so the model
      charges all of it to each: per flip-flop per cycle (clock) and per LUT or flip-flop
      output toggle. A flip-flop that toggles every cycle is then counted twice: the dynamic
      terms are an upper bound. There is no flat clock term (the slope removes the PLL's).
    """
    volts_core, icc_85f_ma = 1.1, 212.0
    mhz = [10, 25, 100]
    board_w = [5.321 * 0.0712, 5.313 * 0.1248, 5.269 * 0.4373]     # V × A at the USB input
    idle_w, flip_flops = 0.202, 83640
    per_ff_pj = _slope(mhz, [(w - idle_w) * 1e6 / flip_flops for w in board_w])   # µW/MHz = pJ
    return EnergyModel(
        family="ecp5", device="ECP5 LFE5U-85F", clock_pj=0.0, clock_ff_pj=per_ff_pj, toggle_pj=per_ff_pj,
        static_uw=icc_85f_ma * volts_core * 1e3, clock_mhz=100.0,
        source="Lattice DS1044 (static); targeted/fpga-reg-power (README and docs/power_data.ods, ULX3S row)")


MODELS: dict[str, EnergyModel] = {"ice40up": _ice40up(), "ecp5": _ecp5()}


def get_model(family: str) -> EnergyModel:
    """The energy model of ``family``; a clear error for a family without published figures."""
    if family not in MODELS:
        raise VerifyError(f"energy: no energy model for family {family!r} (no published per-resource power "
                          f"figures were found for it); use one of: {', '.join(sorted(MODELS))}")
    return MODELS[family]


@dataclass(frozen=True)
class EnergyEstimate:
    """One design's estimated energy per frame (nJ) and what it was computed from."""
    family: str
    clock_mhz: float
    nj_per_frame: float
    dynamic_nj: float
    static_nj: float
    clock_nj: float
    lut_nj: float
    ff_nj: float
    cycles_per_frame: float
    lut_toggles_per_frame: float
    ff_toggles_per_frame: float
    comb_toggle_rate: float
    luts: int
    memory_reads_per_frame: float
    frames_measured: int
    model: str
    ffs: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """The one line ``bitwave verify`` prints."""
        return (f"energy (estimate, {self.family} model): {self.nj_per_frame:.2f} nJ/frame (dynamic "
                f"{self.dynamic_nj:.2f}, static {self.static_nj:.2f} at {self.clock_mhz:g} MHz); "
                f"block-RAM reads not costed: {self.memory_reads_per_frame:.0f}/frame")


def estimate_energy(model: EnergyModel, *, cycles_per_frame: float, comb_toggle_rate: float, luts: int,
                    ff_toggles_per_frame: float, memory_reads_per_frame: float, frames_measured: int,
                    clock_mhz: float | None = None, ffs: int = 0) -> EnergyEstimate:
    """Energy per frame of a design from its counted activity (see the module docstring)."""
    mhz = model.clock_mhz if clock_mhz is None else clock_mhz
    if mhz <= 0:
        raise VerifyError(f"energy: the clock must be above 0 MHz, not {mhz:g}; pass the design's clock in MHz")
    lut_toggles = comb_toggle_rate * luts * cycles_per_frame
    clock_nj = (model.clock_pj + model.clock_ff_pj * ffs) * cycles_per_frame / 1e3
    lut_nj = model.toggle_pj * lut_toggles / 1e3
    ff_nj = model.toggle_pj * ff_toggles_per_frame / 1e3
    static_nj = model.static_uw * cycles_per_frame / mhz / 1e3      # µW × µs = pJ
    dynamic = clock_nj + lut_nj + ff_nj
    return EnergyEstimate(
        family=model.family, clock_mhz=mhz, nj_per_frame=dynamic + static_nj, dynamic_nj=dynamic,
        static_nj=static_nj, clock_nj=clock_nj, lut_nj=lut_nj, ff_nj=ff_nj, cycles_per_frame=cycles_per_frame,
        lut_toggles_per_frame=lut_toggles, ff_toggles_per_frame=ff_toggles_per_frame,
        comb_toggle_rate=comb_toggle_rate, luts=luts, memory_reads_per_frame=memory_reads_per_frame,
        frames_measured=frames_measured, model=model.describe(), ffs=ffs)


def reestimate(est: EnergyEstimate, family: str, *, clock_mhz: float | None = None) -> EnergyEstimate:
    """The same counted activity (``est``'s) priced with another family's model: the
    toggle rates do not depend on the model, so one activity run serves every family."""
    return estimate_energy(get_model(family), cycles_per_frame=est.cycles_per_frame,
                           comb_toggle_rate=est.comb_toggle_rate, luts=est.luts,
                           ff_toggles_per_frame=est.ff_toggles_per_frame,
                           memory_reads_per_frame=est.memory_reads_per_frame,
                           frames_measured=est.frames_measured, clock_mhz=clock_mhz, ffs=est.ffs)


def measure_energy(build_dir: str | Path, manifest: BuildManifest, frames: np.ndarray, family: str, *,
                   clock_mhz: float | None = None) -> EnergyEstimate:
    """Count the activity of streaming ``frames`` (rows of sink wire values, one per frame) through
    the build's Verilog and estimate its energy per frame with ``family``'s model and the
    manifest's estimated LUT and flip-flop counts."""
    model = get_model(family)
    d = Path(build_dir)
    act = measure_activity((d / manifest.verilog).read_text(), manifest.sink.pack_words(frames),
                           sink=manifest.sink, source=manifest.source, frames=len(frames), top=manifest.top,
                           log_dir=d)
    per = act.per_frame()
    return estimate_energy(model, cycles_per_frame=act.cycles_per_frame, comb_toggle_rate=act.comb_rate,
                           luts=manifest.estimate.lut, ff_toggles_per_frame=per["ff_toggles"],
                           memory_reads_per_frame=per["memory_reads"], frames_measured=act.frames,
                           clock_mhz=clock_mhz, ffs=manifest.estimate.ff)
