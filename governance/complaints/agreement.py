"""Agreement among mentors' scores: Krippendorff's alpha for ordinal data, with a bootstrap
interval, and each mentor's leniency or severity.

Reliability data: a *unit* is one candidate assessed on one template at one version; each
mentor gives it at most one value (their latest score). Alpha compares the disagreement
observed within units with the disagreement expected by chance, over the values of units
that at least two mentors scored (the *pairable* ratings); ratings alone in their unit take
no part, which is how alpha handles missing data. The point estimate is the ``krippendorff``
package's; the interval resamples units with replacement, with a fixed seed so that the same
data gives the same interval, and recomputes alpha from the units' coincidence matrices (the
same formula, checked against the package in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import krippendorff
import numpy as np
import numpy.typing as npt

# Below this many pairable ratings alpha says more about chance than about the mentors.
MINIMUM_RATINGS: Final = 20
# Below this many comparisons a mentor's mean deviation is noise.
MINIMUM_COMPARISONS: Final = 5
RESAMPLES: Final = 1000
CONFIDENCE: Final = 0.95
SEED: Final = 16

Unit = Mapping[str, int]  # rater -> score


@dataclass(frozen=True, slots=True)
class Alpha:
    """Alpha and its interval, or None for each when there are fewer than the minimum ratings."""

    units: int  # units at least two mentors scored
    ratings: int  # their values: the pairable ratings
    raters: int
    alpha: float | None
    low: float | None
    high: float | None


def value_counts(units: Sequence[Unit], domain: Sequence[int]) -> npt.NDArray[np.float64]:
    """Units x values: how many mentors gave each value to each unit (units of one value dropped)."""
    index = {v: i for i, v in enumerate(domain)}
    rows = [row for row in (_counts(unit, index) for unit in units) if row.sum() >= 2]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(domain))


def _counts(unit: Unit, index: Mapping[int, int]) -> npt.NDArray[np.float64]:
    row = np.zeros(len(index))
    for score in unit.values():
        row[index[score]] += 1
    return row


def ordinal_alpha(
    units: Sequence[Unit],
    domain: Sequence[int],
    *,
    minimum: int = MINIMUM_RATINGS,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Alpha:
    """Krippendorff's ordinal alpha over ``units`` scored on ``domain`` (the ordered scale)."""
    counts = value_counts(units, domain)
    ratings = int(counts.sum())
    raters = len({rater for unit in units if len(unit) >= 2 for rater in unit})
    if ratings < minimum or np.count_nonzero(counts.sum(axis=0)) < 2:
        # One value only: no expected disagreement, alpha is undefined.
        return Alpha(len(counts), ratings, raters, None, None, None)
    point = float(krippendorff.alpha(value_counts=counts, level_of_measurement="ordinal", value_domain=list(domain)))
    low, high = _bootstrap(counts, resamples, seed)
    return Alpha(len(counts), ratings, raters, point, low, high)


def coincidences(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each unit's coincidence matrix, flattened: o_ck = n_c (n_k - [c = k]) / (m - 1)."""
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    outer -= np.einsum("uc,ck->uck", counts, np.eye(counts.shape[1]))
    flat: npt.NDArray[np.float64] = (outer / (m - 1)[:, None, None]).reshape(len(counts), -1)
    return flat


def alpha_from_coincidences(o: npt.NDArray[np.float64], values: int) -> npt.NDArray[np.float64]:
    """Ordinal alpha for each row of summed coincidences (rows x values*values)."""
    o = o.reshape(len(o), values, values)
    n_c = o.sum(axis=2)
    n = n_c.sum(axis=1)
    # Ordinal difference: (sum of n_g for g from c to k, less half of n_c and n_k) squared.
    cum = np.cumsum(n_c, axis=1)
    lo = np.minimum.outer(np.arange(values), np.arange(values))
    hi = np.maximum.outer(np.arange(values), np.arange(values))
    between = cum[:, hi] - cum[:, lo] + n_c[:, lo]
    delta = (between - (n_c[:, :, None] + n_c[:, None, :]) / 2) ** 2
    observed = (o * delta).sum(axis=(1, 2))
    expected = (n_c[:, :, None] * n_c[:, None, :] * delta).sum(axis=(1, 2)) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(1 - observed / expected, dtype=np.float64)


def _bootstrap(counts: npt.NDArray[np.float64], resamples: int, seed: int) -> tuple[float | None, float | None]:
    rng = np.random.default_rng(seed)
    per_unit = coincidences(counts)
    weights = rng.multinomial(len(counts), np.full(len(counts), 1 / len(counts)), size=resamples)
    alphas = alpha_from_coincidences(weights @ per_unit, counts.shape[1])
    # A resample of one value only has no alpha; it says nothing either way.
    alphas = alphas[np.isfinite(alphas)]
    if not len(alphas):
        return None, None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(alphas, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True, slots=True)
class Leniency:
    """A mentor's mean deviation from the other mentors' mean score of the same units."""

    comparisons: int
    mean_deviation: float | None  # positive: more lenient; negative: more severe


def leniency(deviations: Sequence[float], *, minimum: int = MINIMUM_COMPARISONS) -> Leniency:
    if len(deviations) < minimum:
        return Leniency(len(deviations), None)
    return Leniency(len(deviations), sum(deviations) / len(deviations))
