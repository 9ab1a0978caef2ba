"""An I2S master in Verilator against a codec model: ADC samples in on the pins, DAC samples out.

The model (``i2s_harness.cpp``) is a stereo ADC and DAC in slave mode, as on
a Pmod I2S2: it reads the design's SCLK and LRCK clock by clock, drives the
ADC's data line from a sample file, decodes the DAC data line into samples
and checks the bus timing a codec needs. The design under test is any
Verilog module with the ports ``clk``, ``rst``, ``sclk``, ``lrck``,
``dac_sdata``, ``adc_sdata``, ``dropped``, ``missed`` and ``overrun`` (the
board's I2S wrapper, or the bare bridge in the HDL tests); this module knows
nothing of boards or accelerators.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import SimMismatchError
from ..tools import run_tool
from ._build import verilate
from ._verilator import verilator_argv

__all__ = ["I2SSimResult", "simulate_i2s"]

_FLAGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-lint",
          "-Wno-style", "-CFLAGS", "-O2")


@dataclass(frozen=True)
class I2SSimResult:
    """What the codec model saw: DAC frames (N, 2) as 24-bit two's complement (left, right),
    clock cycles run, bus timing violations, and the design's status outputs at the end."""
    dac: np.ndarray
    cycles: int
    bus_errors: int
    dropped: int
    missed: int
    overrun: bool
    seconds: float

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0


def simulate_i2s(files: Mapping[str, str | bytes], *, top: str, adc, mclk_per_lrck: int,
                 frames_out: int, work: Path | str, max_cycles: int | None = None) -> I2SSimResult:
    """Run Verilog ``files`` (module ``top``) against the codec model.

    ``adc`` is (N, 2) ADC samples (left, right), 24-bit two's complement;
    the bus carries them in frames 0…N-1 and zeros afterwards. The run stops
    when ``frames_out`` DAC frames have been recorded; SimMismatchError when
    ``max_cycles`` (default: those frames and 4 more) pass first. The
    simulator is built once per design (cached by content); the sample files
    and the log go to ``work``.
    """
    samples = np.asarray(adc, dtype=np.int64)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise SimMismatchError(f"I2S simulation: ADC samples must have shape (N, 2) (left, right), "
                               f"not {samples.shape}")
    if samples.size and (samples.min() < -(1 << 23) or samples.max() >= 1 << 23):
        raise SimMismatchError("I2S simulation: ADC samples must be 24-bit two's complement "
                               f"[-8388608, 8388607], not [{samples.min()}, {samples.max()}]")
    here = resources.files(__package__)
    exe = verilate("i2s-sim", files, [here / "i2s_harness.cpp"], top=top, flags=_FLAGS,
                   verilator=verilator_argv()).exe
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    samples.astype("<i4").tofile(work / "adc.bin")
    if max_cycles is None:
        max_cycles = (frames_out + 4) * mclk_per_lrck
    run = run_tool("i2s_sim", [exe, mclk_per_lrck, "adc.bin", "dac.bin", frames_out, max_cycles],
                   cwd=work, log=work / "i2s_sim.log")
    stats = json.loads(run.output.strip().splitlines()[-1])
    dac = np.fromfile(work / "dac.bin", dtype="<i4").astype(np.int64).reshape(-1, 2)
    if len(dac) < frames_out:
        raise SimMismatchError(f"I2S simulation: {len(dac)} of {frames_out} DAC frames after "
                               f"{stats['cycles']} cycles; the bus stopped or runs slower than "
                               f"{mclk_per_lrck} clocks per LRCK period (see {work / 'i2s_sim.log'})")
    return I2SSimResult(dac=dac, cycles=stats["cycles"], bus_errors=stats["bus_errors"],
                        dropped=stats["dropped"], missed=stats["missed"],
                        overrun=bool(stats["overrun"]), seconds=run.seconds)
