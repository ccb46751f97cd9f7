"""BG/NBD purchase model: Fader, Hardie and Lee (2005), "Counting Your Customers the Easy Way".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat
purchase they drop out with probability p ~ Beta(a, b). From (x, t_x, T) per customer (see
summary.py) this module fits (r, alpha, a, b) by maximum likelihood and predicts, per customer,
P(alive at T) and the expected number of purchases in (T, T + t]. Formulas: docs/metrics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from domain.analytics.errors import FitDidNotConverge, NotEnoughData
from domain.analytics.inputs import FloatArray, float_vector, positive, rfm_vectors
from domain.analytics.mle import maximise
from domain.shared.errors import InvalidInput

MODEL = "BG/NBD"
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 5
TIME_SCALE_TARGET = 10.0  # time is rescaled so that max T = 10 while fitting (conditioning only)
NEAR_ONE = 1e-3  # the closed form divides by a - 1; closer to 1 than this it is interpolated


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            positive(getattr(self, name), name)


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float  # total over customers, at params, in the caller's time unit
    converged: bool
    reason: str  # why not converged; "" when converged
    iterations: int
    n_customers: int
    n_repeat_customers: int


def log_likelihood(params: BgNbdParams, *, frequency: npt.ArrayLike, recency: npt.ArrayLike,
                   age: npt.ArrayLike) -> FloatArray:
    """Per-customer log-likelihood ln L(r, alpha, a, b | x, t_x, T) (Fader, Hardie and Lee 2005)."""
    rows = _Rows.of(*rfm_vectors(frequency, recency, age))
    value, _ = _log_likelihood_and_gradient(np.log([params.r, params.alpha, params.a, params.b]), rows,
                                            gradient=False)
    return value


@dataclass(frozen=True, eq=False)
class _Rows:
    """Summary rows prepared for repeated evaluation: the special functions of x are computed once
    per distinct x (`levels`, indexed by `level`), the rest per row."""

    x: FloatArray
    t_x: FloatArray
    big_t: FloatArray
    repeat: npt.NDArray[np.bool_]
    levels: FloatArray
    level: npt.NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> _Rows:
        levels, level = np.unique(x, return_inverse=True)
        return cls(x=x, t_x=t_x, big_t=big_t, repeat=x > 0, levels=levels, level=level)


def _log_likelihood_and_gradient(log_params: FloatArray, rows: _Rows, *, gradient: bool = True
                                 ) -> tuple[FloatArray, FloatArray]:
    """Per-row log-likelihood and (when asked) its derivatives w.r.t. the log-parameters.

    The likelihood L = A1 A2 + [x > 0] A1 A3 with A1 = G(r + x) alpha^r / G(r), A2 = B(a, b + x) /
    (B(a, b) (alpha + T)^(r + x)), A3 = B(a + 1, b + x - 1) / (B(a, b) (alpha + t_x)^(r + x)), is
    taken as ln L = ln(A1 A2) + [x > 0] ln(1 + e^D) with
        D = ln(A3 / A2) = ln a - ln(b + x - 1) + (r + x) (ln(alpha + T) - ln(alpha + t_x)),
    the log-odds of "dropped out after the last purchase" against "alive at T" (so P(alive) =
    1 / (1 + e^D)). ln(1 + e^D) is the log-sum-exp of the two terms, evaluated without overflow.
    """
    r, alpha, a, b = np.exp(log_params)
    k, i, x = rows.levels, rows.level, rows.x
    k_minus_1 = np.maximum(k - 1.0, 0.0)  # only used where x > 0
    log_alpha = np.log(alpha)
    log_alpha_t = np.log(alpha + rows.big_t)
    log_alpha_tx = np.log(alpha + rows.t_x)
    r_x = r + x
    per_level = gammaln(r + k) + betaln(a, b + k)
    log_b_x_1 = np.log(b + k_minus_1)
    log_a2 = (per_level[i] - gammaln(r) - betaln(a, b) + r * log_alpha - r_x * log_alpha_t)
    d = np.log(a) - log_b_x_1[i] + r_x * (log_alpha_t - log_alpha_tx)
    value = log_a2 + np.where(rows.repeat, np.logaddexp(0.0, d), 0.0)
    if not gradient:
        return value, np.empty((0, len(x)))
    w = np.where(rows.repeat, expit(d), 0.0)  # P(dropped out | data), the weight of the A3 term
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + k)[i]
    d_r = digamma(r + k)[i] - digamma(r) + log_alpha - log_alpha_t + w * (log_alpha_t - log_alpha_tx)
    d_alpha = r / alpha - r_x / (alpha + rows.big_t) + w * r_x * (1.0 / (alpha + rows.big_t)
                                                                   - 1.0 / (alpha + rows.t_x))
    d_a = psi_ab - psi_abx + w / a
    d_b = psi_ab - digamma(b) + digamma(b + k)[i] - psi_abx - w / np.exp(log_b_x_1)[i]
    return value, np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


def _distinct_rows(x: FloatArray, t_x: FloatArray, big_t: FloatArray
                   ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The distinct (x, t_x, T) rows and how many customers share each."""
    order = np.lexsort((big_t, t_x, x))
    xs, txs, ts = x[order], t_x[order], big_t[order]
    starts = np.ones(len(xs), dtype=bool)
    starts[1:] = (xs[1:] != xs[:-1]) | (txs[1:] != txs[:-1]) | (ts[1:] != ts[:-1])
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, len(xs))).astype(np.float64)
    return xs[first], txs[first], ts[first], counts


def fit(*, frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike,
        min_customers: int = MIN_CUSTOMERS, min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
        require_convergence: bool = True) -> BgNbdFit:
    """Maximum-likelihood (r, alpha, a, b) from one (x, t_x, T) row per customer.

    Raises NotEnoughData below the thresholds, and FitDidNotConverge when the optimum is not
    trustworthy (unless `require_convergence` is false: then the fit says so in `converged`).
    """
    x, t_x, big_t = rfm_vectors(frequency, recency, age)
    n_customers = len(x)
    n_repeat = int(np.count_nonzero(x))
    if n_customers < min_customers:
        raise NotEnoughData(MODEL, what="customers", minimum=min_customers, actual=n_customers)
    if n_repeat < min_repeat_customers:
        raise NotEnoughData(MODEL, what="repeat customers", minimum=min_repeat_customers, actual=n_repeat)

    if not (big_t > 0).any():
        raise NotEnoughData(MODEL, what="customers with age T > 0", minimum=1, actual=0)

    # Identical rows are common (one-time buyers of the same day share x, t_x, T): each once, weighted.
    ux, utx, ut, counts = _distinct_rows(x, t_x, big_t)
    scale = float(big_t.max()) / TIME_SCALE_TARGET
    rows = _Rows.of(ux, utx / scale, ut / scale)
    weights = counts / n_customers

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        value, grad = _log_likelihood_and_gradient(log_params, rows)
        return -float(weights @ value), -(grad @ weights)

    optimum = maximise(objective, [0.0, 0.0, 0.0, 0.0], ["r", "alpha", "a", "b"])
    r, alpha_scaled, a, b = (float(v) for v in np.exp(optimum.log_params))
    if not optimum.converged and require_convergence:
        raise FitDidNotConverge(MODEL, reason=optimum.reason, iterations=optimum.iterations)
    params = BgNbdParams(r=r, alpha=alpha_scaled * scale, a=a, b=b)
    # Rescaling time by s shifts ln L by sum(x) ln s; report it in the caller's unit.
    total = optimum.mean_log_likelihood * n_customers - float(x.sum()) * np.log(scale)
    return BgNbdFit(params=params, log_likelihood=float(total), converged=optimum.converged,
                    reason=optimum.reason, iterations=optimum.iterations,
                    n_customers=n_customers, n_repeat_customers=n_repeat)


def probability_alive(params: BgNbdParams, *, frequency: npt.ArrayLike, recency: npt.ArrayLike,
                      age: npt.ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
    x, t_x, big_t = rfm_vectors(frequency, recency, age)
    return _probability_alive(params, x, t_x, big_t)


def _probability_alive(params: BgNbdParams, x: FloatArray, t_x: FloatArray,
                       big_t: FloatArray) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    safe_x = np.maximum(x, 1.0)  # the odds below are only used where x > 0
    log_odds = (np.log(a) - np.log(b + safe_x - 1.0)
                + (r + safe_x) * (np.log(alpha + big_t) - np.log(alpha + t_x)))
    return np.where(x > 0, expit(-log_odds), 1.0)


def expected_purchases(params: BgNbdParams, t: float | npt.ArrayLike, *, frequency: npt.ArrayLike,
                       recency: npt.ArrayLike, age: npt.ArrayLike) -> FloatArray:
    """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10), per customer.

    `t` is a number, or an array that broadcasts against the customers (e.g. shape (k, 1) for k
    horizons at once, giving shape (k, n)).
    """
    x, t_x, big_t = rfm_vectors(frequency, recency, age)
    horizon = np.asarray(t, dtype=np.float64)
    if not (np.isfinite(horizon).all() and (horizon >= 0).all()):
        raise InvalidInput("t must be finite and >= 0", field="t")
    return _probability_alive(params, x, t_x, big_t) * _expected_if_alive(params, horizon, x, big_t)


def expected_purchases_new_customer(params: BgNbdParams, t: float | npt.ArrayLike) -> FloatArray:
    """E[X(t)]: expected purchases of a customer in their first t after the first (FHL 2005, eq. 9)."""
    horizon = float_vector(t, "t")
    if (horizon < 0).any():
        raise InvalidInput("t must be >= 0", field="t")
    zero = np.zeros(1)
    return _expected_if_alive(params, horizon, zero, zero)


def _expected_if_alive(params: BgNbdParams, t: FloatArray, x: FloatArray, big_t: FloatArray) -> FloatArray:
    """E[purchases in (T, T + t] | alive at T, x].

    Given alive at T, lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x), and the expectation
    is E_p[(1 - ((alpha + T) / (alpha + T + p t))^(r + x)) / p], an analytic function of a. The
    closed form divides by a - 1, so it loses digits near a = 1 (about 1e-16 / |a - 1| relative):
    within NEAR_ONE of 1 the value is interpolated from a = 1 +- NEAR_ONE, 1 +- 2 NEAR_ONE (cubic,
    exact to O(NEAR_ONE^4)). Where the closed form is not finite, it is interpolated likewise
    from values of a around the given one.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t, x, big_t = np.broadcast_arrays(t, x, big_t)
    if abs(a - 1.0) < NEAR_ONE:
        value = _interpolated(r, alpha, a, b, t, x, big_t, centre=1.0)
    else:
        value = _closed_form(r, alpha, a, b, t, x, big_t)
    bad = ~np.isfinite(value) | ((value < 0) & (t > 0))
    if bad.any():  # a + b + x - 1 = 0 exactly (a 0 * infinity limit), or 2F1 failed (scipy returns
        # inf for some whole-number parameters with z > 0.9, e.g. hyp2f1(1, 1, 101, 0.95))
        value[bad] = _interpolated(r, alpha, a, b, t[bad], x[bad], big_t[bad], centre=a)
    # round-off can leave -1e-17 for tiny t; a truly negative value would be a failure, caught below
    value = np.where(t == 0, 0.0, value)
    if not np.isfinite(value).all():
        raise FloatingPointError("BG/NBD expected purchases could not be evaluated")
    return np.maximum(value, 0.0)


def _interpolated(r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray,
                  big_t: FloatArray, *, centre: float) -> FloatArray:
    """The closed form at a, by cubic Lagrange interpolation through a = centre + NEAR_ONE * k,
    k = -2, -1, 1, 2 (error O(NEAR_ONE^4) relative, since the function is analytic in a)."""
    offsets = (-2.0, -1.0, 1.0, 2.0)
    u = (a - centre) / NEAR_ONE
    value = np.zeros(np.shape(t))
    for k in offsets:
        weight = math.prod((u - j) / (k - j) for j in offsets if j != k)
        value += weight * _closed_form(r, alpha, centre + k * NEAR_ONE, b, t, x, big_t)
    return value


def _closed_form(r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray,
                 big_t: FloatArray) -> FloatArray:
    """(a + b + x - 1) / (a - 1) * [1 - (1 - z)^(r + x) 2F1(r + x, b + x; a + b + x - 1; z)].

    That is FHL 2005 eq. 10 without its P(alive) factor, z = t / (alpha + T + t). Euler's
    transformation 2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z) turns the bracket
    into 1 - (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z), whose terms stay O(1) for
    any x (the original 2F1 grows like (1 - z)^-(x + r + 1 - a) and overflows for large x).
    """
    log_1mz = np.log(alpha + big_t) - np.log(alpha + big_t + t)  # ln(1 - z)
    z = -np.expm1(log_1mz)
    c = a + b + x - 1.0
    with np.errstate(all="ignore"):
        f = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        # 1 - (1 - z)^(a - 1) f, split so that the division by (a - 1) cancels cleanly
        bracket = -np.expm1((a - 1.0) * log_1mz) - np.exp((a - 1.0) * log_1mz) * (f - 1.0)
        return np.asarray(c * bracket / (a - 1.0), dtype=np.float64)
