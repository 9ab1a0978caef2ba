"""FPGA resources: one type for estimates, reports and board builds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["Resources", "Estimate"]


@dataclass(frozen=True)
class Resources:
    """LUT4 (equivalents), flip-flops, block RAMs and DSP blocks."""
    lut: int = 0
    ff: int = 0
    bram: int = 0
    dsp: int = 0

    KINDS = ("lut", "ff", "bram", "dsp")

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(*(getattr(self, k) + getattr(other, k) for k in self.KINDS))

    def __sub__(self, other: "Resources") -> "Resources":
        return Resources(*(getattr(self, k) - getattr(other, k) for k in self.KINDS))

    @classmethod
    def total(cls, items) -> "Resources":
        out = cls()
        for item in items:
            out = out + item
        return out

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Estimate:
    """A generator's estimated :class:`Resources` and the parts (LUT, FF) they add up from."""
    resources: Resources
    parts: dict[str, tuple[float, float]] = field(default_factory=dict)
    weights_in_bram: bool = False
