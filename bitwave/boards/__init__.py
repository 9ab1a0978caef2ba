"""Board targets: wrap a compiled accelerator, build a bitstream, report, flash, run.

``bitwave compile`` writes a folder with ``bitwave_top.v`` and its
:class:`~bitwave.build_folder.BuildManifest`; everything here works from that
folder alone (never from the IR).  A build is a plan first (:func:`plan_build`), executed second.
"""

from ._build import (BuildPlan, BuildProgress, BuildResult, Step, build, execute_plan,
                     plan_build, target_folder)
from ._flash import flash, flash_command
from ._host import open_serial, run_on_board
from ._i2s import (I2SAccelerator, I2SBoardTop, answer_frames, codec_sample_rate, i2s_expected_dac,
                   i2s_inputs, pmod_i2s2_resource, simulate_i2s_build)
from ._report import Report, read_report
from ._selftest import AddConstant, selftest_expected, write_selftest_build
from ._targets import Target, get_target, list_boards
from ._uartsim import UartSimResult, simulate_uart
from ._wrap import BoardTop, ProbeTop, UartAccelerator, uart_divisor

__all__ = [
    "BuildPlan", "BuildProgress", "BuildResult", "Step", "build", "execute_plan", "plan_build",
    "target_folder",
    "I2SAccelerator", "I2SBoardTop", "answer_frames", "codec_sample_rate", "i2s_expected_dac", "i2s_inputs",
    "pmod_i2s2_resource", "simulate_i2s_build",
    "flash", "flash_command", "open_serial", "run_on_board", "UartSimResult", "simulate_uart",
    "Report", "read_report",
    "AddConstant", "selftest_expected", "write_selftest_build",
    "Target", "get_target", "list_boards",
    "BoardTop", "ProbeTop", "UartAccelerator", "uart_divisor",
]
