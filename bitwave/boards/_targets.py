"""Board and device targets: which Amaranth platform, which wrapper, how to program it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from amaranth.build import Attrs, Clock, Pins, Resource
from amaranth.build.plat import Platform
from amaranth.build.res import ResourceError
from amaranth.vendor import LatticeECP5Platform, LatticeICE40Platform
from amaranth_boards.resources import UARTResource

from ..errors import BoardError
from ._i2s import i2s_board_top, pmod_i2s2_resource

__all__ = ["Target", "list_boards", "get_target"]


class GenericUP5KPlatform(LatticeICE40Platform):
    """An iCE40UP5K (SG48) with only a clock pin and one probe pin, for resource/timing studies."""
    device = "iCE40UP5K"
    package = "SG48"
    default_clk = "clk"
    resources = [
        Resource("clk", 0, Pins("35", dir="i"), Clock(48e6),
                 Attrs(GLOBAL=True, IO_STANDARD="SB_LVCMOS")),
        Resource("probe", 0, Pins("11", dir="o"), Attrs(IO_STANDARD="SB_LVCMOS")),
    ]
    connectors = []


class _GenericECP5Platform(LatticeECP5Platform):
    package = "BG381"
    speed = "6"
    default_clk = "clk"
    resources = [
        Resource("clk", 0, Pins("G2", dir="i"), Clock(100e6), Attrs(IO_TYPE="LVCMOS33")),
        Resource("probe", 0, Pins("B2", dir="o"), Attrs(IO_TYPE="LVCMOS33")),
    ]
    connectors = []


class GenericECP5_25KPlatform(_GenericECP5Platform):
    """An LFE5U-25F (CABGA381, speed 6) with only a clock pin and one probe pin."""
    device = "LFE5U-25F"


class GenericECP5_85KPlatform(_GenericECP5Platform):
    """An LFE5U-85F (CABGA381, speed 6) with only a clock pin and one probe pin."""
    device = "LFE5U-85F"


# OrangeCrab has no UART wired to a USB bridge: the host needs a 3.3 V USB-serial
# adapter on the Feather header, RX on pin "0" and TX on pin "1" (Feather convention).
_ORANGECRAB_UART = (UARTResource(0, rx="0", tx="1", conn=("io", 0),
                                 attrs=Attrs(IO_TYPE="LVCMOS33", PULLMODE="UP")),)


@dataclass(frozen=True)
class Target:
    """Where a build goes.

    ``board_io`` targets get the UART wrapper on the board's serial port, or
    the top ``make_top(manifest, clock_hz)`` returns when it is set (named
    ``io_label`` in listings and reports); the others (generic devices) get a
    probe wrapper: a 32-bit LFSR drives the
    accelerator's inputs and the XOR of its outputs drives one pin, so only two
    pins are used and nothing is optimised away.
    """
    name: str
    platform: str                         # "module:Class" of an Amaranth platform
    description: str
    board_io: bool = True
    programmer_args: tuple[str, ...] = ()  # openFPGALoader cable/board selection
    pack_opts: tuple[str, ...] = ()
    extra_resources: tuple = field(default=(), compare=False, repr=False)
    make_top: Callable | None = field(default=None, compare=False, repr=False)
    io_label: str | None = None

    def platform_class(self) -> type[Platform]:
        return _load_platform_class(self.platform)

    def make_platform(self) -> Platform:
        plat = self.platform_class()()
        if self.extra_resources:
            plat.add_resources(list(self.extra_resources))
        return plat

    @property
    def family(self) -> str:
        cls = self.platform_class()
        return "ice40" if issubclass(cls, LatticeICE40Platform) else "ecp5"

    @property
    def device(self) -> str:
        return self.platform_class().device

    @property
    def package(self) -> str:
        return self.platform_class().package

    @property
    def clock_hz(self) -> float:
        """The clock the design runs at (the board oscillator, or the generic goal)."""
        return float(self.make_platform().default_clk_frequency)


def _ulx3s(size: str) -> Target:
    return Target(f"ulx3s-{size}", f"amaranth_boards.ulx3s:ULX3S_{size.upper()}_Platform",
                  f"ULX3S (ECP5 LFE5U-{size.upper()}, 25 MHz), UART on the FTDI USB port",
                  programmer_args=("-b", "ulx3s"), pack_opts=("--compress",))


def _orangecrab(size: str) -> Target:
    return Target(f"orangecrab-{size}",
                  f"amaranth_boards.orangecrab_r0_2:OrangeCrabR0_2_{size.upper()}Platform",
                  f"OrangeCrab r0.2 (ECP5 LFE5U-{size.upper()}, 48 MHz), UART on Feather pins "
                  f"0 (RX) / 1 (TX) via a 3.3 V USB-serial adapter",
                  programmer_args=("-b", "orangeCrab"), pack_opts=("--compress", "--freq", "38.8"),
                  extra_resources=_ORANGECRAB_UART)


_BUILTIN = (
    Target("icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform",
           "iCEBreaker (iCE40UP5K, 12 MHz), UART on the FTDI USB port",
           programmer_args=("-b", "ice40_generic")),
    Target("icebreaker-i2s", "amaranth_boards.icebreaker:ICEBreakerPlatform",
           "iCEBreaker (iCE40UP5K, 12 MHz), audio through a Pmod I2S2 on PMOD1A at 46.875 kHz",
           programmer_args=("-b", "ice40_generic"), extra_resources=(pmod_i2s2_resource(0),),
           make_top=i2s_board_top, io_label="I2S (Pmod I2S2)"),
    _ulx3s("12f"), _ulx3s("25f"), _ulx3s("45f"), _ulx3s("85f"),
    _orangecrab("25f"), _orangecrab("85f"),
    Target("ice40-up5k", f"{__name__}:GenericUP5KPlatform",
           "generic iCE40UP5K SG48, no board I/O (LFSR/XOR probe wrapper, 48 MHz goal)",
           board_io=False),
    Target("ecp5-25k", f"{__name__}:GenericECP5_25KPlatform",
           "generic ECP5 LFE5U-25F-6, no board I/O (LFSR/XOR probe wrapper, 100 MHz goal)",
           board_io=False),
    Target("ecp5-85k", f"{__name__}:GenericECP5_85KPlatform",
           "generic ECP5 LFE5U-85F-6, no board I/O (LFSR/XOR probe wrapper, 100 MHz goal)",
           board_io=False),
)
_BY_NAME = {t.name: t for t in _BUILTIN}


def list_boards() -> list[Target]:
    """The built-in targets; any Amaranth iCE40/ECP5 platform can also be named as module:Class."""
    return list(_BUILTIN)


def _load_platform_class(spec: str) -> type[Platform]:
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise BoardError(f"board {spec!r}: expected a built-in name "
                         f"({', '.join(_BY_NAME)}) or an Amaranth platform as module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BoardError(f"board {spec!r}: cannot import {module_name!r} ({exc})") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise BoardError(f"board {spec!r}: module {module_name!r} has no {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Platform)):
        raise BoardError(f"board {spec!r}: {class_name} is not an Amaranth platform class")
    if not issubclass(cls, (LatticeICE40Platform, LatticeECP5Platform)):
        raise BoardError(f"board {spec!r}: only iCE40 and ECP5 platforms are supported by the "
                         f"open flow (yosys + nextpnr-ice40/ecp5)")
    if issubclass(cls, LatticeECP5Platform) and getattr(cls, "family", "ecp5") != "ecp5":
        raise BoardError(f"board {spec!r}: only ECP5 devices of the Lattice ECP5 family are supported")
    return cls


def get_target(name: str) -> Target:
    """A built-in target by name (case-insensitive), or ``module:Class`` naming a platform."""
    key = name.strip().lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    if ":" not in name:
        raise BoardError(f"unknown board {name!r}; known: {', '.join(_BY_NAME)}; or name an "
                         f"Amaranth platform class as module:Class")
    cls = _load_platform_class(name)
    try:
        cls().lookup("uart", 0)
    except ResourceError:
        raise BoardError(f"board {name!r}: the platform has no 'uart' resource; add one "
                         f"(amaranth_boards.resources.UARTResource) in a subclass") from None
    return Target(name, name, f"{cls.__name__} ({cls.device} {cls.package})")
