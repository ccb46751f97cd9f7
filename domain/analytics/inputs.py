"""Checks on the arrays the models take, so that bad input is a 422 and never a NaN downstream."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from domain.shared.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]


def float_vector(values: npt.ArrayLike, field: str) -> FloatArray:
    """`values` as a one-dimensional float64 array of finite numbers."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} must be numbers", field=field) from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidInput(f"{field} must be one-dimensional", field=field)
    if not np.isfinite(array).all():
        raise InvalidInput(f"{field} must be finite numbers (no NaN or infinity)", field=field)
    return array


def same_length(**arrays: npt.NDArray[Any]) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise InvalidInput(f"arrays must have the same length ({listed})", field=next(iter(lengths)))


def rfm_vectors(frequency: npt.ArrayLike, recency: npt.ArrayLike,
                age: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated (x, t_x, T): x a whole number >= 0, 0 <= t_x <= T, all the same length."""
    x = float_vector(frequency, "frequency")
    t_x = float_vector(recency, "recency")
    big_t = float_vector(age, "age")
    same_length(frequency=x, recency=t_x, age=big_t)
    if (x < 0).any() or (x != np.floor(x)).any():
        raise InvalidInput("frequency must be whole numbers >= 0 (repeat purchases)", field="frequency")
    if (t_x < 0).any():
        raise InvalidInput("recency must be >= 0", field="recency")
    if (t_x > big_t).any():
        raise InvalidInput("recency must not exceed age (t_x <= T)", field="recency")
    return x, t_x, big_t


def positive(value: float, field: str) -> float:
    if not (np.isfinite(value) and value > 0):
        raise InvalidInput(f"{field} must be a positive finite number", field=field)
    return float(value)
