"""CLV model fit (issue 5): BG/NBD + Gamma-Gamma on a simulated 1,000,000-customer summary
(`--quick`: 100,000), against lifetimes 0.11.3 fitting the same summary in the same run.

lifetimes is never a dependency of the project: it runs in its own virtualenv
(`BENCH_LIFETIMES_PYTHON`, default bench/.venv-lifetimes/bin/python, else /tmp/lifetimes-venv/bin/python;
made with `python -m venv bench/.venv-lifetimes && bench/.venv-lifetimes/bin/pip install
lifetimes==0.11.3 "pandas<3"`), in a subprocess that reads the summary from a .npz file and prints
its parameters and its own fit times. Without it the benchmark reports our times alone.

The summary: customers simulated from BG/NBD (r 0.25, alpha 28 per day, a 0.8, b 2.5) with ages
of 1 to 730 whole days and times in whole days, spend from Gamma-Gamma (p 6, q 3.7, gamma 15).
Targets: the same parameters to 1e-4 relative, and >= 3x faster (fit wall time, both models,
median of 3 runs for ours; lifetimes once).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, Figure
from domain.analytics import bgnbd, gamma_gamma

SPEED_TARGET = 3.0
AGREEMENT_TARGET = 1e-4

LIFETIMES_SCRIPT = r"""
import json, sys, time
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter
data = np.load(sys.argv[1])
x, t_x, T, m = data["x"], data["t_x"], data["T"], data["m"]
started = time.perf_counter()
bg = BetaGeoFitter().fit(x, t_x, T)
bg_seconds = time.perf_counter() - started
repeat = x > 0
started = time.perf_counter()
gg = GammaGammaFitter().fit(x[repeat], m[repeat])
gg_seconds = time.perf_counter() - started
print(json.dumps({"r": bg.params_["r"], "alpha": bg.params_["alpha"], "a": bg.params_["a"],
                  "b": bg.params_["b"], "p": gg.params_["p"], "q": gg.params_["q"], "gamma": gg.params_["v"],
                  "bgnbd_seconds": bg_seconds, "gamma_gamma_seconds": gg_seconds}))
"""


def simulate(n: int, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    big_t = rng.integers(1, 731, n).astype(np.float64)
    rate = rng.gamma(0.25, 1 / 28.0, n)  # purchases per day
    drop = rng.beta(0.8, 2.5, n)
    x = np.zeros(n)
    last = np.zeros(n)
    clock = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        i = np.flatnonzero(alive)
        clock[i] += rng.exponential(1 / np.maximum(rate[i], 1e-12))
        bought = clock[i] <= big_t[i]
        j = i[bought]
        x[j] += 1
        last[j] = clock[j]
        alive[i[~bought]] = False
        alive[j[rng.random(len(j)) < drop[j]]] = False  # drops out after a repeat purchase
    t_x = np.minimum(np.floor(last), big_t)
    nu = rng.gamma(3.7, 1 / 15.0, n)
    m = np.where(x > 0, rng.gamma(6.0 * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)
    return {"x": x, "t_x": t_x, "T": big_t, "m": m}


def _ours(s: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    b = bgnbd.fit(frequency=s["x"], recency=s["t_x"], age=s["T"]).params
    g = gamma_gamma.fit(frequency=s["x"], monetary_value=s["m"]).params
    return time.perf_counter() - started, {"r": b.r, "alpha": b.alpha, "a": b.a, "b": b.b, "p": g.p, "q": g.q,
                                           "gamma": g.gamma}


def _lifetimes_python() -> str | None:
    for candidate in (os.environ.get("BENCH_LIFETIMES_PYTHON"),
                      str(ROOT / "bench" / ".venv-lifetimes" / "bin" / "python"),
                      "/tmp/lifetimes-venv/bin/python"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def run(server: str, *, quick: bool) -> tuple[list[Figure], dict[str, Any]]:
    n = 100_000 if quick else 1_000_000
    summary = simulate(n)
    runs = [_ours(summary) for _ in range(3)]
    ours = statistics.median(r[0] for r in runs)
    params = runs[0][1]
    raw: dict[str, Any] = {"customers": n, "repeat_customers": int((summary["x"] > 0).sum()),
                           "distinct_rows": len(np.unique(np.stack([summary["x"], summary["t_x"],
                                                                    summary["T"]]),
                                                          axis=1).T),
                           "ours_seconds": [r[0] for r in runs], "ours": params}
    python = _lifetimes_python()
    if python is None:
        return [Figure(f"CLV fit {n:,} customers (BG/NBD + Gamma-Gamma)", ours, "s",
                       target="lifetimes not installed: not compared")], raw
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-") as tmp:
        path = Path(tmp) / "summary.npz"
        np.savez(path, **summary)
        started = time.perf_counter()
        done = subprocess.run([python, "-c", LIFETIMES_SCRIPT, str(path)], capture_output=True, text=True,
                              check=True)
        wall = time.perf_counter() - started
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    fit_seconds = theirs["bgnbd_seconds"] + theirs["gamma_gamma_seconds"]
    worst = max(abs(params[k] - theirs[k]) / abs(theirs[k]) for k in params)
    raw.update(lifetimes=theirs, lifetimes_wall_seconds=wall, worst_relative_difference=worst)
    judged = None if quick else fit_seconds / ours >= SPEED_TARGET
    figures = [
        Figure(f"CLV fit {n:,} customers (BG/NBD + Gamma-Gamma)", ours, "s", fit_seconds,
               "lifetimes 0.11.3 fit s", f">= {SPEED_TARGET:.0f}x faster (ratio <= {1 / SPEED_TARGET:.2f})",
               judged),
        Figure("largest relative parameter difference vs lifetimes", worst, "",
               target=f"<= {AGREEMENT_TARGET:g}",
               met=worst <= AGREEMENT_TARGET),
    ]
    return figures, raw
