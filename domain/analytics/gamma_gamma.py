"""Gamma-Gamma spend model: Fader, Hardie and Lee (2005), "RFM and CLV: Using Iso-value Curves".

A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers, so the
mean value m_x of x repeat transactions has a closed-form density. The model is fitted on repeat
customers only (x >= 1, m_x > 0) and predicts each customer's expected average order value,
shrinking m_x towards the population mean the more so the fewer purchases it rests on. The
density and the expectation are eqs. 1a and 5 of Fader and Hardie (2013), "The Gamma-Gamma Model
of Monetary Value". Formulas: docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from domain.analytics.errors import FitDidNotConverge, NotEnoughData
from domain.analytics.inputs import FloatArray, float_vector, positive, same_length
from domain.analytics.mle import maximise
from domain.shared.errors import InvalidInput

MODEL = "Gamma-Gamma"
MIN_REPEAT_CUSTOMERS = 10


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        for name in ("p", "q", "gamma"):
            positive(getattr(self, name), name)

    @property
    def population_mean_spend(self) -> float:
        """E[Z] = p gamma / (q - 1); infinite when q <= 1."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float  # total over the customers fitted, in the caller's money unit
    converged: bool
    reason: str
    iterations: int
    n_customers: int  # repeat customers with positive spend: the ones the fit used
    # Pearson correlation of x and m_x over those customers. The model assumes spend does not
    # depend on frequency; a strong correlation (|rho| > ~0.3) says its predictions are suspect.
    frequency_spend_correlation: float


def _spend_vectors(frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = float_vector(frequency, "frequency")
    m = float_vector(monetary_value, "monetary_value")
    same_length(frequency=x, monetary_value=m)
    if (x < 0).any() or (x != np.floor(x)).any():
        raise InvalidInput("frequency must be whole numbers >= 0 (repeat purchases)", field="frequency")
    if ((x > 0) & (m < 0)).any():
        raise InvalidInput("monetary_value must be >= 0", field="monetary_value")
    return x, m


def log_likelihood(params: GammaGammaParams, *, frequency: npt.ArrayLike,
                   monetary_value: npt.ArrayLike) -> FloatArray:
    """Per-customer ln f(m_x | p, q, gamma; x) for customers with x >= 1 and m_x > 0."""
    x, m = _spend_vectors(frequency, monetary_value)
    if not ((x > 0) & (m > 0)).all():
        raise InvalidInput("the Gamma-Gamma likelihood needs x >= 1 and m_x > 0", field="frequency")
    value, _ = _log_likelihood_and_gradient(np.log([params.p, params.q, params.gamma]), _Rows.of(x, m),
                                            gradient=False)
    return value


@dataclass(frozen=True, eq=False)
class _Rows:
    """(x, m_x) prepared for repeated evaluation; functions of x alone are computed per distinct x."""

    x: FloatArray
    total: FloatArray  # x m_x, the customer's repeat spend
    log_m: FloatArray
    log_x: FloatArray
    levels: FloatArray
    level: npt.NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray, m: FloatArray) -> _Rows:
        levels, level = np.unique(x, return_inverse=True)
        return cls(x=x, total=x * m, log_m=np.log(m), log_x=np.log(x), levels=levels, level=level)


def _log_likelihood_and_gradient(log_params: FloatArray, rows: _Rows, *,
                                 gradient: bool = True) -> tuple[FloatArray, FloatArray]:
    """ln f = ln G(px + q) - ln G(px) - ln G(q) + q ln gamma + (px - 1) ln m + px ln x
              - (px + q) ln(gamma + m x)."""
    p, q, gamma = np.exp(log_params)
    k, i, x = rows.levels, rows.level, rows.x
    px = p * x
    log_total = np.log(gamma + rows.total)
    value = ((gammaln(p * k + q) - gammaln(p * k))[i] - gammaln(q) + q * np.log(gamma)
             + (px - 1.0) * rows.log_m + px * rows.log_x - (px + q) * log_total)
    if not gradient:
        return value, np.empty((0, len(x)))
    psi = digamma(p * k + q)
    d_p = x * ((psi - digamma(p * k))[i] + rows.log_m + rows.log_x - log_total)
    d_q = psi[i] - digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + rows.total)
    return value, np.stack([d_p * p, d_q * q, d_gamma * gamma])


def fit(*, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike,
        min_repeat_customers: int = MIN_REPEAT_CUSTOMERS, require_convergence: bool = True) -> GammaGammaFit:
    """Maximum-likelihood (p, q, gamma) from (x, m_x) per customer.

    Customers with x = 0 (no repeat purchase) or m_x = 0 (repeat purchases worth nothing) carry no
    information on spend and are left out; `n_customers` counts the ones used.
    """
    x, m = _spend_vectors(frequency, monetary_value)
    used = (x > 0) & (m > 0)
    x, m = x[used], m[used]
    n = len(x)
    if n < min_repeat_customers:
        raise NotEnoughData(MODEL, what="repeat customers with spend", minimum=min_repeat_customers, actual=n)
    scale = float(m.mean())  # money rescaled so that the mean m_x is 1 while fitting
    rows = _Rows.of(x, m / scale)

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        value, grad = _log_likelihood_and_gradient(log_params, rows)
        return -float(value.mean()), -grad.mean(axis=1)

    optimum = maximise(objective, [0.0, 0.0, 0.0], ["p", "q", "gamma"])
    if not optimum.converged and require_convergence:
        raise FitDidNotConverge(MODEL, reason=optimum.reason, iterations=optimum.iterations)
    p, q, gamma_scaled = (float(v) for v in np.exp(optimum.log_params))
    # f(m) = f_scaled(m / s) / s: the total shifts by -n ln s
    total = optimum.mean_log_likelihood * n - n * np.log(scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = float(np.corrcoef(x, m)[0, 1]) if n > 1 else 0.0
    return GammaGammaFit(params=GammaGammaParams(p=p, q=q, gamma=gamma_scaled * scale),
                         log_likelihood=float(total), converged=optimum.converged, reason=optimum.reason,
                         iterations=optimum.iterations, n_customers=n,
                         frequency_spend_correlation=rho if np.isfinite(rho) else 0.0)


def expected_average_spend(params: GammaGammaParams, *, frequency: npt.ArrayLike,
                           monetary_value: npt.ArrayLike) -> FloatArray:
    """E[M | p, q, gamma, m_x, x] = p (gamma + x m_x) / (p x + q - 1), per customer.

    A weighted mean of the population mean p gamma / (q - 1) and the customer's own m_x, with
    weight p x / (p x + q - 1) on m_x. For x = 0 it is the population mean, which exists only
    when q > 1: otherwise InvalidInput (the fitted spend distribution has no mean).
    """
    x, m = _spend_vectors(frequency, monetary_value)
    p, q, gamma = params.p, params.q, params.gamma
    m = np.where(x > 0, m, 0.0)  # m_x has no meaning without repeat purchases
    denominator = p * x + q - 1.0
    if (denominator <= 0).any():
        raise InvalidInput(f"the fitted spend distribution has no finite mean for customers with "
                           f"p x + q <= 1 (q = {q:.4g}); the Gamma-Gamma model cannot value them",
                           field="frequency")
    return np.asarray(p * (gamma + x * m) / denominator, dtype=np.float64)
