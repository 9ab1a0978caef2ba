import sys
from pathlib import Path

# The suite runs with --import-mode=importlib, which does not put test folders on
# sys.path; the HDL tests share their stream bench and numpy models through
# hdl_bench.py next to this file.
sys.path.insert(0, str(Path(__file__).parent))
