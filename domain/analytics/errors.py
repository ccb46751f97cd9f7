"""Errors of the lifetime-value models (docs/metrics.md, "Thresholds" and "Convergence").

Both are `InvalidInput`: the request was well formed, but the tenant's data cannot support the
model, so the API answers 422 with a precise `code` and the numbers that decided it.
"""

from __future__ import annotations

from domain.shared.errors import InvalidInput


class NotEnoughData(InvalidInput):
    """Fewer customers (or repeat customers) than a model needs to be fitted meaningfully."""

    def __init__(self, model: str, *, what: str, minimum: int, actual: int) -> None:
        super().__init__(f"not enough data to fit {model}: {actual} {what}, at least {minimum} needed")
        self.model = model
        self.minimum = minimum
        self.actual = actual
        self.extra.update(code="not_enough_data", model=model, what=what, minimum=minimum, actual=actual)


class FitDidNotConverge(InvalidInput):
    """The likelihood maximisation ended without a trustworthy optimum (see `reason`)."""

    def __init__(self, model: str, *, reason: str, iterations: int) -> None:
        super().__init__(f"{model} fit did not converge after {iterations} iterations: {reason}")
        self.model = model
        self.reason = reason
        self.iterations = iterations
        self.extra.update(code="fit_did_not_converge", model=model, reason=reason, iterations=iterations)
