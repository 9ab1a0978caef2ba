"""A Verilator build folder left behind by a killed process is removed by a later build."""

import os
import subprocess
import sys

from bitwave.sim._build import ABANDONED_SECONDS, _remove_abandoned


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_abandoned_build_folders_go_and_live_ones_stay(tmp_path):
    dead, old = _dead_pid(), -2 * ABANDONED_SECONDS
    folders = {name: tmp_path / name for name in
               (f"k1-{dead}-a.tmp", f"k2-{os.getpid()}-b.tmp", f"k3-{dead}-c.tmp", "k4-x-d.tmp")}
    for path in folders.values():
        (path / "obj_dir").mkdir(parents=True)
    for name in (f"k1-{dead}-a.tmp", f"k2-{os.getpid()}-b.tmp", "k4-x-d.tmp"):   # untouched for long
        st = folders[name].stat()
        os.utime(folders[name], (st.st_atime + old, st.st_mtime + old))
    _remove_abandoned(tmp_path)
    # Gone: the dead process's old folder. Kept: a running process's, a recent failed build's
    # (its logs), and a name that is not ours.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n in folders if not n.startswith("k1"))
