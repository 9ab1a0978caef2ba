"""``bitwave demo audio``: the hybrid audio model from checkpoint (or training) to verified RTL,
with WAV files, a plot and an ESR table.  See ``docs/audio.md``, "The demo"."""

from ._outputs import PLOT_FILE, WAV_FILES, DemoAudio, EsrRow, esr_rows, esr_table, write_plot, write_wavs
from ._run import HELD_OUT_SECONDS, DemoResult, run_demo

__all__ = ["run_demo", "DemoResult", "HELD_OUT_SECONDS", "DemoAudio", "EsrRow", "esr_rows",
           "esr_table", "write_wavs", "write_plot", "WAV_FILES", "PLOT_FILE"]
