"""Predictive customer lifetime value: BG/NBD purchases x Gamma-Gamma spend x margin, discounted.

For a customer with history (x, t_x, T, m_x), over a horizon H (in the models' time unit):

    CLV = margin * E[M | x, m_x] * DET(H)
    DET(H) = integral from 0 to H of e^(-delta t) dE[Y(t)]      (discounted expected transactions)
           = e^(-delta H) E[Y(H)] + delta * integral from 0 to H of e^(-delta t) E[Y(t)] dt

where E[Y(t)] is BG/NBD's conditional expected purchases in (T, T + t] and
delta = ln(1 + annual_discount_rate) * (days per unit) / 365.25 is the continuously compounded
rate per time unit, so that a purchase one year out is worth 1 / (1 + annual rate). The second
form (integration by parts) needs only E[Y(t)], evaluated at Gauss-Legendre nodes. Multiplying
the two expectations assumes spend is independent of the purchase process, as Gamma-Gamma does.
docs/metrics.md compares this with lifetimes' monthly discretisation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from domain.analytics import bgnbd, gamma_gamma
from domain.analytics.bgnbd import BgNbdParams
from domain.analytics.gamma_gamma import GammaGammaParams
from domain.analytics.inputs import FloatArray, rfm_vectors
from domain.analytics.summary import TimeUnit
from domain.shared.errors import InvalidInput

DAYS_PER_YEAR = 365.25
QUADRATURE_NODES = 32  # E[Y(t)] is smooth in t: 32 nodes are exact to ~1e-12 for any horizon tried


@lru_cache(maxsize=8)
def _gauss_legendre(nodes: int) -> tuple[FloatArray, FloatArray]:
    # The nodes are an eigenvalue problem (~1 ms for 32): computed once, not per customer refresh.
    u, w = np.polynomial.legendre.leggauss(nodes)
    u.setflags(write=False)
    w.setflags(write=False)
    return u, w


def rate_per_unit(annual_discount_rate: float, time_unit: TimeUnit) -> float:
    """The continuously compounded discount rate per time unit equivalent to an annual rate."""
    if not (np.isfinite(annual_discount_rate) and annual_discount_rate >= 0):
        raise InvalidInput("annual_discount_rate must be a finite number >= 0", field="annual_discount_rate")
    return float(np.log1p(annual_discount_rate) * time_unit.days / DAYS_PER_YEAR)


def discounted_expected_purchases(params: BgNbdParams, *, horizon: float, delta: float,
                                  frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike,
                                  nodes: int = QUADRATURE_NODES) -> FloatArray:
    """DET(H): each expected purchase in (T, T + H] weighted by e^(-delta t) at its time t."""
    return expected_and_discounted(params, horizon=horizon, delta=delta, frequency=frequency,
                                   recency=recency, age=age, nodes=nodes)[1]


def expected_and_discounted(params: BgNbdParams, *, horizon: float, delta: float,
                            frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike,
                            nodes: int = QUADRATURE_NODES) -> tuple[FloatArray, FloatArray]:
    """(E[Y(H)], DET(H)) per customer. E[Y(t)] is evaluated once, at the quadrature nodes and at
    H together: the per-order metrics refresh needs both, for one customer at a time."""
    if not (np.isfinite(horizon) and horizon >= 0):
        raise InvalidInput("horizon must be a finite number >= 0", field="horizon")
    if not (np.isfinite(delta) and delta >= 0):
        raise InvalidInput("delta must be a finite number >= 0", field="delta")
    x, t_x, big_t = rfm_vectors(frequency, recency, age)
    if delta == 0.0 or horizon == 0.0:
        at_end = bgnbd.expected_purchases(params, horizon, frequency=x, recency=t_x, age=big_t)
        return at_end, at_end
    u, w = _gauss_legendre(nodes)
    times = horizon / 2.0 * (u + 1.0)
    weights = horizon / 2.0 * w * np.exp(-delta * times)
    along = bgnbd.expected_purchases(params, np.append(times, horizon)[:, None],
                                     frequency=x, recency=t_x, age=big_t)
    at_end = along[-1]
    discounted = np.exp(-delta * horizon) * at_end + delta * (weights @ along[:-1])
    return np.asarray(at_end, dtype=np.float64), np.asarray(discounted, dtype=np.float64)


def customer_lifetime_value(bgnbd_params: BgNbdParams, gamma_gamma_params: GammaGammaParams, *,
                            frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike,
                            monetary_value: npt.ArrayLike, horizon: float, time_unit: TimeUnit,
                            margin: float, annual_discount_rate: float) -> FloatArray:
    """Discounted expected gross profit per customer over the next `horizon` time units.

    In the currency unit of `monetary_value`. `margin` is the gross-profit share of revenue (0-1).
    """
    if not (np.isfinite(margin) and 0.0 <= margin <= 1.0):
        raise InvalidInput("margin must be between 0 and 1", field="margin")
    delta = rate_per_unit(annual_discount_rate, time_unit)
    x, t_x, big_t = rfm_vectors(frequency, recency, age)
    spend = gamma_gamma.expected_average_spend(gamma_gamma_params, frequency=x, monetary_value=monetary_value)
    det = discounted_expected_purchases(bgnbd_params, horizon=horizon, delta=delta,
                                        frequency=x, recency=t_x, age=big_t)
    return np.asarray(margin * spend * det, dtype=np.float64)
