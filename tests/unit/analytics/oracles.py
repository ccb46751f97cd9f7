"""Independent computations the tests compare the models with: direct integration and simulation."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.integrate import quad
from scipy.special import betaln

from domain.analytics.bgnbd import BgNbdParams


def expected_if_alive_by_integration(params: BgNbdParams, t: float, x: float, big_t: float) -> float:
    """E[purchases in (T, T + t] | alive at T, x] = E_p[(1 - ((alpha + T) / (alpha + T + p t))^(r + x)) / p]
    with p ~ Beta(a, b + x), integrated numerically (QUADPACK with the algebraic end-point weight)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    s = t / (alpha + big_t)

    def g(p: float) -> float:
        return (r + x) * s if p == 0 else -np.expm1(-(r + x) * np.log1p(p * s)) / p

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QUADPACK's round-off notes; the tolerance asked is strict
        value, _ = quad(g, 0.0, 1.0, weight="alg", wvar=(a - 1.0, b + x - 1.0), epsabs=0, epsrel=1e-11, limit=200)
    return float(value / np.exp(betaln(a, b + x)))


def simulate_bgnbd(rng: np.random.Generator, params: BgNbdParams, ages: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(x, t_x) for customers of the given ages T, drawn from the BG/NBD story itself."""
    n = len(ages)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1.0 / rate[idx])
        bought = clock[idx] <= ages[idx]
        buyers = idx[bought]
        x[buyers] += 1
        t_x[buyers] = clock[buyers]
        active[idx[~bought]] = False
        active[buyers[rng.random(len(buyers)) < drop[buyers]]] = False  # dropped out after buying
    return x, t_x
