"""From purchases to the per-customer summary the CLV models take (docs/metrics.md, "Summary").

For each customer, over the calibration period (purchases on or before `observation_end`):

- purchase occasions: distinct days with a purchase; several orders on one day are one occasion
  whose value is their sum (as lifetimes' `summary_data_from_transaction_data` and BTYD's
  `dc.MergeTransactionsOnSameDate` do; Fader, Hardie and Lee's CDNOW numbers need it);
- frequency x: occasions after the first (repeat purchases);
- recency t_x: time from the first to the last occasion;
- age T: time from the first occasion to `observation_end`;
- monetary value: mean value of the repeat occasions (the first is left out, as in Fader, Hardie
  and Lee 2005, "RFM and CLV"); 0 for customers with x = 0, who the Gamma-Gamma model skips.

Times are whole days divided by the unit's length (1 or 7). Days are the caller's: the tenant-local
calendar days of its orders, with cancelled and fully refunded orders already removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from domain.analytics.inputs import FloatArray, float_vector, same_length
from domain.shared.errors import InvalidInput


class TimeUnit(StrEnum):
    DAY = "day"
    WEEK = "week"

    @property
    def days(self) -> int:
        return 7 if self is TimeUnit.WEEK else 1


@dataclass(frozen=True, eq=False)
class PurchaseSummary:
    """One row per customer with a purchase in the calibration period, ordered by customer id."""

    customer_ids: npt.NDArray[Any]
    frequency: npt.NDArray[np.int64]  # x
    recency: FloatArray  # t_x, in time_unit
    age: FloatArray  # T, in time_unit
    monetary_value: FloatArray | None  # mean repeat-occasion value; 0 where x = 0; None without amounts
    first_purchase: npt.NDArray[np.datetime64]
    observation_end: date
    time_unit: TimeUnit

    def __len__(self) -> int:
        return len(self.frequency)

    @property
    def n_repeat_customers(self) -> int:
        return int(np.count_nonzero(self.frequency))


def summarise_purchases(customer_ids: npt.ArrayLike, purchase_dates: npt.ArrayLike,
                        amounts: npt.ArrayLike | None = None, *, observation_end: date,
                        time_unit: TimeUnit = TimeUnit.WEEK) -> PurchaseSummary:
    """Summarise purchases (one row each: customer id, local date, amount) as of `observation_end`.

    Purchases after `observation_end` are left out (they belong to a holdout period); customers
    whose purchases are all later are not in the summary at all.
    """
    ids = np.asarray(customer_ids)
    try:
        days = np.asarray(purchase_dates, dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise InvalidInput("purchase_dates must be dates", field="purchase_dates") from exc
    if ids.ndim != 1 or days.ndim != 1:
        raise InvalidInput("customer_ids and purchase_dates must be one-dimensional", field="customer_ids")
    same_length(customer_ids=ids, purchase_dates=days)
    if np.isnat(days).any():
        raise InvalidInput("purchase_dates must not be missing", field="purchase_dates")
    values = None
    if amounts is not None:
        values = float_vector(amounts, "amounts")
        same_length(customer_ids=ids, amounts=values)

    end = np.datetime64(observation_end, "D")
    kept = days <= end
    ids, days = ids[kept], days[kept]
    values = values[kept] if values is not None else None

    uniques, codes = np.unique(ids, return_inverse=True)
    day_numbers = days.astype(np.int64)
    order = np.lexsort((day_numbers, codes))
    codes, day_numbers = codes[order], day_numbers[order]

    # occasions: runs of equal (customer, day) in the sorted rows
    starts_occasion = np.ones(len(codes), dtype=bool)
    starts_occasion[1:] = (codes[1:] != codes[:-1]) | (day_numbers[1:] != day_numbers[:-1])
    occasion_rows = np.flatnonzero(starts_occasion)
    occasion_code = codes[occasion_rows]
    occasion_day = day_numbers[occasion_rows]

    # customers: runs of equal code among the occasions
    starts_customer = np.ones(len(occasion_code), dtype=bool)
    starts_customer[1:] = occasion_code[1:] != occasion_code[:-1]
    first = np.flatnonzero(starts_customer)
    last = np.append(first[1:], len(occasion_code))[: len(first)] - 1
    frequency = (last - first).astype(np.int64)

    unit = float(time_unit.days)
    first_day = occasion_day[first]
    recency = (occasion_day[last] - first_day) / unit
    age = (end.astype(np.int64) - first_day) / unit

    monetary = None
    if values is not None:
        occasion_value = np.add.reduceat(values[order], occasion_rows) if len(occasion_rows) else values
        repeat_value = occasion_value.copy()
        repeat_value[first] = 0.0  # the first occasion is not a repeat purchase
        repeat_total = np.add.reduceat(repeat_value, first) if len(first) else repeat_value
        monetary = np.divide(repeat_total, frequency, out=np.zeros(len(first)), where=frequency > 0)

    return PurchaseSummary(
        customer_ids=uniques[occasion_code[first]] if len(first) else uniques,
        frequency=frequency,
        recency=recency.astype(np.float64),
        age=age.astype(np.float64),
        monetary_value=monetary,
        first_purchase=first_day.astype("datetime64[D]"),
        observation_end=observation_end,
        time_unit=time_unit,
    )
