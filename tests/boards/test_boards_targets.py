"""Targets: the built-in list, user platforms named module:Class, and their errors."""

import pytest

from bitwave.boards import get_target, list_boards, uart_divisor
from bitwave.errors import BoardError


def test_builtin_targets():
    names = [t.name for t in list_boards()]
    for expected in ("icebreaker", "ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f",
                     "orangecrab-25f", "orangecrab-85f", "ice40-up5k", "ecp5-25k", "ecp5-85k"):
        assert expected in names
    ice = get_target("iCEBreaker")
    assert (ice.family, ice.device, ice.package, ice.clock_hz) == ("ice40", "iCE40UP5K", "SG48", 12e6)
    ulx = get_target("ulx3s-85f")
    assert (ulx.family, ulx.device, ulx.clock_hz, ulx.programmer_args) == (
        "ecp5", "LFE5U-85F", 25e6, ("-b", "ulx3s"))
    assert get_target("orangecrab-25f").programmer_args == ("-b", "orangeCrab")
    generic = get_target("ecp5-85k")
    assert not generic.board_io and generic.device == "LFE5U-85F"


def test_orangecrab_gets_a_uart_on_the_feather_header():
    plat = get_target("orangecrab-85f").make_platform()
    assert plat.lookup("uart", 0).name == "uart"


def test_user_platform_by_module_and_class():
    target = get_target("amaranth_boards.icestick:ICEStickPlatform")
    assert (target.family, target.device, target.board_io) == ("ice40", "iCE40HX1K", True)
    assert target.programmer_args == ()


@pytest.mark.parametrize("name,message", [
    ("nosuchboard", r"unknown board 'nosuchboard'; known: icebreaker, .*module:Class"),
    ("no_such_module:Board", r"cannot import 'no_such_module'"),
    ("amaranth_boards.icestick:Nope", r"module 'amaranth_boards.icestick' has no 'Nope'"),
    ("amaranth_boards.icestick:__name__", r"is not an Amaranth platform class"),
    ("amaranth_boards.arty_a7:ArtyA7_35Platform", r"only iCE40 and ECP5 platforms"),
    ("bitwave.boards._targets:GenericUP5KPlatform", r"has no 'uart' resource"),
])
def test_bad_board_names(name, message):
    with pytest.raises(BoardError, match=message):
        get_target(name)


def test_uart_divisor():
    assert uart_divisor(12e6, 115200) == 104
    assert uart_divisor(25e6, 115200) == 217
    with pytest.raises(BoardError, match=r"^6000000 baud is too fast for a 12 MHz clock"):
        uart_divisor(12e6, 6_000_000)
    with pytest.raises(BoardError, match=r"off by 4\.0% \(divisor 5\)"):
        uart_divisor(12e6, 2_500_000)
