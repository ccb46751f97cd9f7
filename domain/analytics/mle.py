"""Maximum likelihood on log-parameters, and the one definition of "converged" (docs/metrics.md).

Every model parameter is positive, so the optimiser works on log(theta): no positivity
constraints, and steps are relative. Callers rescale their data (time so that max T = 10, money so
that mean m_x = 1, as lifetimes does), so sensible parameters are within a few powers of ten of 1;
the box `|log theta| <= LOG_BOUND` only keeps the search finite. The objective is the negative *mean*
log-likelihood, so tolerances do not depend on the number of customers.

L-BFGS-B does the search; a few Newton steps (with the Hessian at its end point, by central
differences of the analytic gradient) then polish the end point, because L-BFGS-B's own stopping
tests (relative reduction of the objective, or a line search that can make no more progress) may
stop a little short of the optimum. A fit counts as converged when, at the end point:

1. the log-likelihood, every parameter and the gradient are finite;
2. no parameter is beyond e^RUNAWAY or below e^-RUNAWAY (on the rescaled data): such a parameter
   is running along a flat ridge towards 0 or infinity, i.e. the likelihood is highest at a limit
   of the model, not at finite parameters. Small data sets do this: with few repeat customers,
   BG/NBD's a and b often grow together without bound (a/(a + b) fixed: the same drop-out
   probability for everyone), and L-BFGS-B stops somewhere on the ridge with a tiny gradient;
3. the largest gradient component of the mean log-likelihood (per log-parameter) is at most
   GRADIENT_TOLERANCE;
4. the Hessian (at L-BFGS-B's end point) of the log-likelihood is negative definite: a strict
   local maximum, so the parameters are identified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from domain.analytics.inputs import FloatArray

LOG_BOUND = 18.0
RUNAWAY = 12.0  # e^12 ~ 1.6e5: no sensible parameter of rescaled data is that large or small
GRADIENT_TOLERANCE = 1e-7
MAX_ITERATIONS = 2000
POLISH_STEPS = 8
HESSIAN_STEP = 1e-5

# objective(log_params) -> (negative mean log-likelihood, its gradient w.r.t. log_params)
Objective = Callable[[FloatArray], tuple[float, FloatArray]]


@dataclass(frozen=True)
class Optimum:
    log_params: FloatArray
    mean_log_likelihood: float
    converged: bool
    reason: str  # why not converged; "" when converged
    iterations: int


def maximise(objective: Objective, start: Sequence[float], names: Sequence[str]) -> Optimum:
    """Minimise `objective` from `start`, polish, then judge the end point by the rules above."""
    x0 = np.asarray(start, dtype=np.float64)
    with np.errstate(all="ignore"):  # trial steps may overflow; such points return +inf or NaN
        result = minimize(objective, x0, jac=True, method="L-BFGS-B",
                          bounds=[(-LOG_BOUND, LOG_BOUND)] * len(x0),
                          options={"maxiter": MAX_ITERATIONS, "ftol": 1e-13, "gtol": 1e-10})
        log_params = np.clip(np.asarray(result.x, dtype=np.float64), -LOG_BOUND, LOG_BOUND)
        value, gradient = objective(log_params)
        finite = bool(np.isfinite(value) and np.isfinite(gradient).all())
        hessian = _hessian(objective, log_params) if finite else None
        steps = 0
        if hessian is not None and _positive_definite(hessian):
            log_params, value, gradient, steps = _polish(objective, hessian, log_params, value, gradient)
    iterations = int(result.nit) + steps
    largest = float(np.max(np.abs(gradient))) if len(gradient) else 0.0
    reason = ""
    if not (np.isfinite(value) and np.isfinite(log_params).all() and np.isfinite(gradient).all()):
        reason = "the log-likelihood is not finite at the end point"
    elif (np.abs(log_params) > RUNAWAY).any():
        running = [n for n, v in zip(names, log_params, strict=True) if abs(v) > RUNAWAY]
        reason = (f"{' and '.join(running)} ran off towards 0 or infinity: the likelihood is highest at "
                  f"a limit of the model, not at finite parameters (typically too little data)")
    elif largest > GRADIENT_TOLERANCE:
        reason = (f"the gradient is still {largest:.2g} (tolerance {GRADIENT_TOLERANCE:g}); "
                  f"the optimiser said: {result.message}")
    elif hessian is None or not _positive_definite(hessian):
        reason = "the likelihood is flat or saddle-shaped at the end point (parameters not identified)"
    return Optimum(log_params=log_params, mean_log_likelihood=-float(value), converged=not reason,
                   reason=reason, iterations=iterations)


def _hessian(objective: Objective, point: FloatArray) -> FloatArray:
    """Central differences of the analytic gradient, symmetrised."""
    k = len(point)
    columns = []
    for i in range(k):
        step = np.zeros(k)
        step[i] = HESSIAN_STEP
        columns.append((objective(point + step)[1] - objective(point - step)[1]) / (2 * HESSIAN_STEP))
    hessian = np.stack(columns, axis=1)
    return (hessian + hessian.T) / 2


def _positive_definite(matrix: FloatArray) -> bool:
    if not np.isfinite(matrix).all():
        return False
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def _polish(objective: Objective, hessian: FloatArray, point: FloatArray, value: float,
            gradient: FloatArray) -> tuple[FloatArray, float, FloatArray, int]:
    """Newton steps with the end point's Hessian, while the objective does not rise."""
    steps = 0
    for _ in range(POLISH_STEPS):
        if np.max(np.abs(gradient)) < 1e-13:
            break
        trial = np.clip(point - np.linalg.solve(hessian, gradient), -LOG_BOUND, LOG_BOUND)
        trial_value, trial_gradient = objective(trial)
        if not (np.isfinite(trial_value) and np.isfinite(trial_gradient).all()) \
                or trial_value > value + 1e-15 * abs(value):
            break
        point, value, gradient = trial, trial_value, trial_gradient
        steps += 1
    return point, value, gradient, steps
