"""Utilisation and timing of a build, measured, next to the compiler's estimate.

Measured numbers come from two places: yosys' per-module cell counts (so the
accelerator is counted apart from the UART/probe wrapper) and nextpnr's
``--report`` JSON (packed utilisation against the device, fmax).  LUT means
LUT4 on both families; an ECP5 carry cell (CCU2C) counts as two LUT4s and a
16x4 distributed RAM (TRELLIS_DPR16X4) as four.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BoardError
from ..hdl import Resources

if TYPE_CHECKING:
    from ._build import BuildPlan

__all__ = ["Report", "make_report", "write_report", "read_report",
           "overflow_from_nextpnr_log", "not_fit_error"]

# nextpnr bel types that hold each resource, per family.
_BELS = {
    "ice40": {"lut": "ICESTORM_LC", "ff": "ICESTORM_LC", "bram": "ICESTORM_RAM",
              "dsp": "ICESTORM_DSP"},
    "ecp5": {"lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "bram": "DP16KD", "dsp": "MULT18X18D"},
}


def count_cells(cells: dict[str, int], family: str) -> Resources:
    """Resources used by a yosys cell census (``num_cells_by_type``) of a mapped netlist."""
    def total(*names, prefix=None):
        n = sum(cells.get(name, 0) for name in names)
        if prefix:
            n += sum(v for k, v in cells.items() if k.startswith(prefix))
        return n
    if family == "ice40":
        return Resources(lut=total("SB_LUT4"), ff=total(prefix="SB_DFF"),
                         bram=total("SB_RAM40_4K", "SB_RAM40_4KNR", "SB_RAM40_4KNW",
                                    "SB_RAM40_4KNRNW"),
                         dsp=total("SB_MAC16"))
    return Resources(lut=total("LUT4") + 2 * total("CCU2C") + 4 * total("TRELLIS_DPR16X4"),
                     ff=total("TRELLIS_FF"), bram=total("DP16KD", "PDPW16KD"),
                     dsp=total("MULT18X18D"))


@dataclass(frozen=True)
class Report:
    target: str
    device: str
    family: str
    io: str                         # "uart 115200 baud" or "probe (LFSR in, XOR out)"
    baud: int | None                # UART baud rate; None for the probe wrapper
    clock_mhz: float                # the constraint: board clock or generic goal
    fmax_mhz: float | None
    timing_met: bool
    accelerator: Resources          # bitwave_top alone (yosys)
    wrapper: Resources              # everything else in the design (yosys)
    device_used: Resources          # packed, from nextpnr (ice40: logic cells for lut/ff)
    capacity: Resources
    estimate: Resources             # the compiler's, from the build manifest
    layers: tuple[tuple[str, Resources], ...]
    step_seconds: dict[str, float]
    build_seconds: float
    bitstream: str | None
    overflow: dict[str, tuple[int, int]] = field(default_factory=dict)
    pnr_utilisation: dict[str, dict] = field(default_factory=dict)
    timing_driven: bool = True      # nextpnr placed and routed for timing (else wire length)

    @property
    def lut_ratio(self) -> float | None:
        """Measured over estimated LUTs of the accelerator (1.0 = perfect estimate)."""
        return self.accelerator.lut / self.estimate.lut if self.estimate.lut else None

    def to_json(self) -> dict:
        data = asdict(self)
        data["layers"] = [{"name": n, "estimate": e.as_dict()} for n, e in self.layers]
        data["overflow"] = {k: {"used": u, "available": a} for k, (u, a) in self.overflow.items()}
        data["lut_ratio"] = self.lut_ratio
        return data


def read_report(folder: Path | str) -> dict:
    """The ``report.json`` of a target build folder, as plain data."""
    path = Path(folder) / "report.json"
    if not path.is_file():
        raise BoardError(f"{folder}: no report.json; run `bitwave build` first")
    return json.loads(path.read_text())


def _fmax(pnr: dict) -> tuple[float | None, float | None]:
    clocks = pnr.get("fmax", {})
    if not clocks:
        return None, None
    worst = min(clocks.values(), key=lambda c: c["achieved"])
    return float(worst["achieved"]), float(worst["constraint"])


def make_report(plan: "BuildPlan", step_seconds: list[float], build_seconds: float) -> Report:
    """Read ``stat.json`` and ``pnr-report.json`` of an executed plan into a Report."""
    family = plan.target.family
    stat = json.loads((plan.folder / "stat.json").read_text())
    pnr = json.loads((plan.folder / "pnr-report.json").read_text())
    modules = stat["modules"]
    acc_key = next((k for k in modules if k.lstrip("\\") == plan.manifest.top), None)
    if acc_key is None:
        raise BoardError(f"{plan.folder / 'stat.json'}: synthesis kept no module "
                         f"{plan.manifest.top!r}; is it the top module of "
                         f"{plan.manifest.verilog}?")
    accelerator = count_cells(modules[acc_key]["num_cells_by_type"], family)
    total = count_cells(stat["design"]["num_cells_by_type"], family)
    util = pnr.get("utilization", {})
    bels = _BELS[family]
    used = Resources(**{r: util.get(b, {}).get("used", 0) for r, b in bels.items()})
    capacity = Resources(**{r: util.get(b, {}).get("available", 0) for r, b in bels.items()})
    overflow = {b: (u["used"], u["available"]) for b, u in util.items()
                if u["used"] > u["available"]}
    fmax, constraint = _fmax(pnr)
    clock_mhz = constraint if constraint is not None else plan.clock_hz / 1e6
    return Report(
        target=plan.target.name, device=f"{plan.target.device} {plan.target.package}",
        family=family,
        io=plan.target.io_label or (f"uart {plan.baud} baud" if plan.baud
                                    else "probe (LFSR in, XOR out)"),
        baud=plan.baud,
        clock_mhz=round(clock_mhz, 2),
        fmax_mhz=None if fmax is None else round(fmax, 2),
        timing_met=fmax is None or fmax >= clock_mhz,
        accelerator=accelerator, wrapper=total - accelerator, device_used=used,
        capacity=capacity, estimate=plan.estimate,
        layers=tuple((layer.name, layer.estimate_for(family, plan.dsp))
                     for layer in plan.manifest.layers),
        step_seconds={s.title: round(t, 2) for s, t in zip(plan.steps, step_seconds)},
        build_seconds=round(build_seconds, 2), bitstream=plan.bitstream,
        overflow=overflow, pnr_utilisation=util, timing_driven=plan.timing_driven)


def _pct(used: int, cap: int) -> str:
    return f"{100 * used / cap:.1f} %" if cap else "–"


def render_markdown(report: Report) -> str:
    r = report
    ratio = f"{r.lut_ratio:.2f}" if r.lut_ratio is not None else "–"
    fmax = f"{r.fmax_mhz:.1f} MHz" if r.fmax_mhz is not None else "– (no clocked path)"
    lines = [
        f"# Build report: {r.target} ({r.device})",
        "",
        f"- I/O wrapper: {r.io}",
        f"- clock: {r.clock_mhz:g} MHz; fmax: {fmax} — timing "
        f"{'met' if r.timing_met else 'NOT met'}"
        + ("" if r.timing_driven else " (placed and routed by wire length alone, not for "
           "timing: `bitwave build --timing-driven` tries harder, much more slowly)"),
        f"- build time: {r.build_seconds:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in r.step_seconds.items()) + ")",
        f"- bitstream: {r.bitstream or '– (generic target, nothing to flash)'}",
        "",
        "| resource | estimate | accelerator | ratio | wrapper | device used | capacity | use |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    unit = {"lut": "LUT4", "ff": "FF", "bram": "BRAM", "dsp": "DSP"}
    for res in ("lut", "ff", "bram", "dsp"):
        est, acc = getattr(r.estimate, res), getattr(r.accelerator, res)
        used, cap = getattr(r.device_used, res), getattr(r.capacity, res)
        res_ratio = f"{acc / est:.2f}" if est else "–"
        lines.append(f"| {unit[res]} | {est} | {acc} | {res_ratio} | {getattr(r.wrapper, res)} | "
                     f"{used} | {cap} | {_pct(used, cap)} |")
    if r.family == "ice40":
        lines += ["", "On iCE40, device LUT and FF both count logic cells (one LUT4 + one FF "
                  "each), as packed by nextpnr."]
    lines += ["", f"Estimated vs measured accelerator LUT4: ratio {ratio} (measured / estimate).",
              "", "| layer | LUT est. | FF est. | BRAM est. | DSP est. |", "|---|---:|---:|---:|---:|"]
    for name, est in r.layers:
        lines.append(f"| {name} | {est.lut} | {est.ff} | {est.bram} | {est.dsp} |")
    if r.overflow:
        lines += ["", "**Does not fit:** " + ", ".join(
            f"{bel} {u}/{a}" for bel, (u, a) in r.overflow.items())]
    return "\n".join(lines) + "\n"


def write_report(report: Report, folder: Path) -> None:
    (folder / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    (folder / "report.md").write_text(render_markdown(report))


_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def overflow_from_nextpnr_log(log: str) -> dict[str, tuple[int, int]] | None:
    """Bel types used beyond the device's capacity, from nextpnr's utilisation table."""
    over = {bel: (int(u), int(a)) for bel, u, a in _UTIL_LINE.findall(log) if int(u) > int(a)}
    if over:
        return over
    if "no BELs remaining" in log or "Unable to place cell" in log:
        match = re.search(r"cell type '(\w+)'", log)
        return {match.group(1) if match else "cells": (0, 0)}
    return None


def not_fit_error(plan: "BuildPlan", overflow: dict[str, tuple[int, int]],
                  where: Path) -> BoardError:
    """The error for a design too big for its device: what overflowed, which layer, what to do."""
    family = plan.target.family
    resource = next((r for r, b in _BELS[family].items() if b in overflow), "lut")
    what = ", ".join(f"{bel} {u}/{a} ({100 * u / a:.0f} %)" if a else bel
                     for bel, (u, a) in overflow.items())
    biggest = plan.manifest.biggest_layer(resource)
    if biggest is None:
        layer = "compile with smaller pe/simd (more folding)"
    else:
        folding = (f"pe={biggest.pe}, simd={biggest.simd}, "
                   if biggest.pe is not None and biggest.simd is not None else "")
        layer = (f"the biggest layer is {biggest.name} ({folding}estimate "
                 f"{getattr(biggest.estimate, resource)} {resource.upper()}); ")
        if biggest.pe == 1 and biggest.simd == 1:
            layer += "it is already fully folded, so make the model smaller"
        else:
            layer += "compile it with a smaller pe/simd (more folding)"
    bigger = [t for t in ("ulx3s-85f", "ecp5-85k") if t != plan.target.name]
    return BoardError(f"{plan.target.name} ({plan.target.device}): design does not fit: {what}; "
                      f"{layer}, or pick a bigger device ({', '.join(bigger)}); see {where}")
