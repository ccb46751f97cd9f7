"""The CDNOW sample (Fader, Hardie and Lee 2005): 2,357 customers' CD purchases, 1997-01 to 1998-06.

Columns: customer id, sample id, yyyymmdd, number of CDs, dollar value. The calibration period
ends on 1997-09-30 (39 weeks); times are in weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from domain.analytics.summary import PurchaseSummary, TimeUnit, summarise_purchases

CDNOW = Path("/work/shared/data/CDNOW_sample.txt")
CALIBRATION_END = date(1997, 9, 30)


@dataclass(frozen=True, eq=False)
class Transactions:
    customer_ids: npt.NDArray[np.int64]
    sample_ids: npt.NDArray[np.int64]
    dates: npt.NDArray[np.datetime64]
    amounts: npt.NDArray[np.float64]


@pytest.fixture(scope="session")
def cdnow_transactions() -> Transactions:
    if not CDNOW.exists():
        pytest.skip(f"{CDNOW} is not present")
    raw = np.loadtxt(CDNOW, dtype=str)
    days = raw[:, 2]
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in days], dtype="datetime64[D]")
    return Transactions(customer_ids=raw[:, 0].astype(np.int64), sample_ids=raw[:, 1].astype(np.int64),
                        dates=dates, amounts=raw[:, 4].astype(np.float64))


@pytest.fixture(scope="session")
def cdnow(cdnow_transactions: Transactions) -> PurchaseSummary:
    """Calibration-period summary keyed by the sample id (1..2357, the published summary's ID)."""
    t = cdnow_transactions
    return summarise_purchases(t.sample_ids, t.dates, t.amounts, observation_end=CALIBRATION_END,
                               time_unit=TimeUnit.WEEK)
