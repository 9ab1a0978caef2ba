import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked slow (benchmarks-sized runs)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """The address of a separately started Dask cluster: ``dask scheduler`` and one ``dask worker``
    process running 2 workers of one thread each, on 127.0.0.1; stopped after the module."""
    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    dask = Path(sys.executable).parent / "dask"
    folder = tmp_path_factory.mktemp("dask")
    sched_file = folder / "scheduler.json"
    log = open(folder / "dask.log", "w")

    def start(*args):
        return subprocess.Popen([str(dask), *args], stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                                start_new_session=True)

    def stop(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    procs = [start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(sched_file))]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.is_file() and time.monotonic() < deadline:
            assert procs[0].poll() is None, (folder / "dask.log").read_text()[-2000:]
            time.sleep(0.5)
        assert sched_file.is_file(), "the scheduler did not start within 60 s"
        procs.append(start("worker", "--scheduler-file", str(sched_file), "--nworkers", "2", "--nthreads", "1",
                           "--host", "127.0.0.1", "--no-dashboard"))
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        from distributed import Client
        with Client(address, timeout="20s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            stop(proc)
        log.close()
