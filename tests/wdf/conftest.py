import sys
from pathlib import Path

# The suite runs with --import-mode=importlib, which does not put test folders on sys.path;
# the WDF core tests share their stream bench through wdf_stream.py next to this file.
sys.path.insert(0, str(Path(__file__).parent))
