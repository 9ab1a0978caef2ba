"""The audio models of issue 14 in float, measured on this machine.

Simulates the clipping stage (:mod:`bitwave.frontend.audio`) at 8× on
training plucks (``TRAIN_SEED``), held-out plucks (``HELD_OUT_SEED``) and
sweeps at three levels, and checks it against 16×; trains the hybrid (L-BFGS)
and the pure Conv1d baseline (Adam, and L-BFGS with the hybrid's settings),
each seeded, on one thread; prints their parameters, plain and pre-emphasised
ESR on the held-out plucks and on the sweeps (aligned at the model's declared
latency) and CPU seconds of training.  ``--save-checkpoint`` writes the
trained hybrid's state dict to ``bitwave/frontend/audio/hybrid.pt`` and the
Adam-trained baseline's to ``baseline.pt`` next to it (``bitwave demo audio``
reads both).  The training itself is ``bitwave.frontend.audio``'s
(``train_hybrid``, ``train_baseline``), shared with the demo's ``--retrain``.

    .venv/bin/python bench/audio_bench.py [--quick] [--save-checkpoint]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone

import numpy as np
import torch

from bitwave.frontend.audio import (BASELINE_CHECKPOINT, BASELINE_FIT, CHECKPOINT, HELD_OUT_SEED,
                                    HYBRID_FIT, TRAIN_SECONDS, FitSettings, HybridClipper, aligned_esr, esr,
                                    parameter_count, plucks, run, simulate_stage, sweeps,
                                    train_baseline, train_hybrid, training_pair)


def _timed(f, *args, **kwargs):
    t = time.process_time()
    out = f(*args, **kwargs)
    return out, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="less audio and training (a smoke run)")
    ap.add_argument("--save-checkpoint", action="store_true",
                    help=f"save the trained hybrid to {CHECKPOINT}, the baseline to "
                         f"{BASELINE_CHECKPOINT.name}")
    args = ap.parse_args()
    train_s, held_s, agree_s = (4.0, 2.0, 1.0) if args.quick else (TRAIN_SECONDS, 10.0, 3.0)
    hybrid_fit = FitSettings(rounds=1, iterations=10) if args.quick else HYBRID_FIT
    adam_fit = FitSettings(optimiser="adam", rounds=1, iterations=100, lr=0.005) if args.quick \
        else BASELINE_FIT
    print(f"audio bench, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores; "
          f"CPU seconds, one thread")

    xh, xs = plucks(held_s, HELD_OUT_SEED), sweeps()
    (yh, t_sim) = _timed(simulate_stage, xh)
    print(f"circuit: {held_s:g} s of audio at 8× (384 kHz) simulated in {t_sim:.1f} s CPU")
    (xt, yt), ys = training_pair(train_s), simulate_stage(xs)
    n = int(agree_s * 48_000)
    for name, x, y8 in (("held-out plucks", xh[:n], yh[:n]), ("sweeps", xs, ys)):
        y16 = simulate_stage(x, oversample=16)
        print(f"8× vs 16× on {name} ({len(x) / 48e3:g} s): ESR {esr(y16, y8):.2e}, "
              f"pre-emphasised {esr(y16, y8, 0.85):.2e}")

    latency = HybridClipper().latency       # the baseline may look as far ahead as the hybrid
    rows = [("hybrid (L-BFGS)", lambda: train_hybrid(xt, yt, hybrid_fit))]
    for label, settings in (("Conv1d (Adam)", adam_fit), ("Conv1d (L-BFGS)", hybrid_fit)):
        rows.append((label, lambda s=settings: train_baseline(xt, yt, s, latency=latency)))
    print(f"\n{'model':18s} {'params':>6s} {'latency':>7s} {'plucks ESR':>11s} {'pre-emph':>9s} "
          f"{'sweeps ESR':>11s} {'pre-emph':>9s} {'train CPU s':>11s}")
    trained = []
    for label, train in rows:
        model, result = train()
        trained.append(model)
        oh, os_ = run(model, xh), run(model, xs)
        lat = model.latency
        print(f"{label:18s} {parameter_count(model):6d} {lat:7d} "
              f"{100 * aligned_esr(yh, oh, lat):10.3f}% {100 * aligned_esr(yh, oh, lat, 0.85):8.3f}% "
              f"{100 * aligned_esr(ys, os_, lat):10.3f}% {100 * aligned_esr(ys, os_, lat, 0.85):8.3f}% "
              f"{result.cpu_seconds:11.1f}", flush=True)
    hybrid, baseline = trained[0], trained[1]
    c = hybrid.clipper
    print(f"\nhybrid WDF: R {c.R.item():.4g} Ω, C {c.C.item():.4g} F, Is {c.Is.item():.4g} A, "
          f"Vt {c.Vt.item():.4g} V, dry gain {hybrid.dry.item():.4g}")
    if args.save_checkpoint:
        for model, path in ((hybrid, CHECKPOINT), (baseline, BASELINE_CHECKPOINT)):
            torch.save(model.state_dict(), path)
            print(f"saved {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
