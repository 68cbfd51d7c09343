"""Exact aggregation kernels over numpy arrays: clamp, round to a grid, sum, count, bin.

Every kernel returns Python integers (or int64 arrays) computed exactly: values are clamped to
the bounds, rounded to the power-of-two grid (``v = rint(x / g)``, exact in binary floating
point), and summed in chunks small enough that each chunk's float64 sum of integers stays below
2**53 (so it is exact) before being added up as Python integers. The chunks stay in cache, so a
clamped sum runs at a few hundred million rows per second and needs one chunk of extra memory.
NaN means "missing": it contributes nothing to sums and is not counted as a valid value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from veil.field import Csprng

__all__ = [
    "CHUNK_ROWS",
    "GridMoments",
    "bin_counts",
    "bound_contributions",
    "bound_partitions",
    "grid_moments",
    "group_codes",
    "group_moments",
]

#: Rows processed per chunk: 2**17 float64 values (1 MiB) stay in cache. Grids keep values below
#: 2**36 (so a chunk's float64 sum, < 2**53, is exact) and squares below 2**46 (int64 sums).
CHUNK_ROWS = 1 << 17


@dataclass(frozen=True)
class GridMoments:
    """Exact sums over the valid (non-NaN) values v = rint(clamp(x) / g) − center."""

    n_rows: int
    n_valid: int
    s1: int
    s2: int


def grid_moments(
    values: npt.ArrayLike, lo: float, hi: float, inv_g: float, center: int, squares: bool
) -> GridMoments:
    """Return the row count, valid count, Σv and (if ``squares``) Σv² exactly.

    The caller guarantees ``CHUNK_ROWS · max|v| < 2**53`` (and ``CHUNK_ROWS · max v² < 2**63``
    when ``squares``), which its choice of grid ensures.
    """
    x = np.asarray(values)
    if x.dtype.kind not in "fiub":
        x = pd.to_numeric(pd.Series(np.ravel(x)), errors="coerce").to_numpy(dtype=np.float64)
    x = np.ravel(x)
    n = x.size
    buf = np.empty(min(n, CHUNK_ROWS), dtype=np.float64)
    c = float(center)
    n_valid, s1, s2 = n, 0, 0
    for start in range(0, n, CHUNK_ROWS):
        chunk = x[start : start + CHUNK_ROWS]
        b = buf[: chunk.size]
        np.clip(chunk, lo, hi, out=b)
        np.multiply(b, inv_g, out=b)
        np.rint(b, out=b)
        if center:
            np.subtract(b, c, out=b)
        total = float(b.sum())
        if total != total:  # a NaN in this chunk: drop the missing values and redo it
            keep = ~np.isnan(b)
            n_valid -= int(chunk.size - np.count_nonzero(keep))
            b = b[keep]
            total = float(b.sum())
        s1 += int(total)
        if squares:
            iv = b.astype(np.int64)
            s2 += int(np.dot(iv, iv))
    return GridMoments(n, n_valid, s1, s2)


def bin_counts(values: npt.ArrayLike, lo: float, hi: float, n_bins: int) -> npt.NDArray[np.int64]:
    """Return counts of the valid values in ``n_bins`` equal-width bins over ``[lo, hi]``.

    Values are clamped first, so values below ``lo`` count in the first bin and values above
    ``hi`` in the last; NaN is skipped.
    """
    x = np.ravel(np.asarray(values, dtype=np.float64))
    counts = np.zeros(n_bins, dtype=np.int64)
    scale = n_bins / (hi - lo)
    buf = np.empty(min(x.size, CHUNK_ROWS), dtype=np.float64)
    for start in range(0, x.size, CHUNK_ROWS):
        chunk = x[start : start + CHUNK_ROWS]
        b = buf[: chunk.size]
        np.clip(chunk, lo, hi, out=b)
        b -= lo
        b *= scale
        np.floor(b, out=b)
        b = b[~np.isnan(b)]
        idx = np.minimum(b.astype(np.int64), n_bins - 1)
        counts += np.bincount(idx, minlength=n_bins)
    return counts


def _rank_mask(codes: npt.NDArray[np.int64], max_rows: int, rng: Csprng) -> npt.NDArray[np.bool_]:
    """Keep at most ``max_rows`` entries per code, chosen uniformly at random (CSPRNG keys)."""
    keys = rng.uint64(codes.size)
    order = np.lexsort((keys, codes))
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_codes.size]))
    rank = np.arange(sorted_codes.size) - run_start
    keep = np.zeros(codes.size, dtype=bool)
    keep[order[rank < max_rows]] = True
    return keep


def bound_contributions(person: npt.ArrayLike, max_rows: int, rng: Csprng) -> npt.NDArray[np.bool_]:
    """Return a mask keeping at most ``max_rows`` rows per person, chosen uniformly at random.

    Each person's kept rows depend only on their own rows and fresh randomness, so adding or
    removing one person changes at most ``max_rows`` kept rows (the stability the sensitivity
    analysis needs).
    """
    codes, _ = pd.factorize(pd.Series(np.ravel(np.asarray(person, dtype=object))), sort=False)
    return _rank_mask(codes.astype(np.int64), max_rows, rng)


def bound_partitions(
    person: npt.ArrayLike,
    codes: npt.NDArray[np.int64],
    max_partitions: int,
    max_rows: int,
    rng: Csprng,
) -> npt.NDArray[np.bool_]:
    """Return a mask keeping, per person, at most ``max_partitions`` groups and ``max_rows`` rows in each.

    The groups a person keeps are chosen at random among theirs; so are the rows.
    """
    people, _ = pd.factorize(pd.Series(np.ravel(np.asarray(person, dtype=object))), sort=False)
    people = people.astype(np.int64)
    width = int(codes.max()) + 2 if codes.size else 1
    pair_codes, uniques = pd.factorize(people * width + (codes + 1), sort=False)
    pair_codes = pair_codes.astype(np.int64)
    keep_rows = _rank_mask(pair_codes, max_rows, rng)
    pair_person = np.empty(len(uniques), dtype=np.int64)
    pair_person[pair_codes] = people
    keep_pairs = _rank_mask(pair_person, max_partitions, rng)
    out: npt.NDArray[np.bool_] = keep_rows & keep_pairs[pair_codes]
    return out


def group_codes(
    keys: npt.ArrayLike, public_keys: list[object] | None
) -> tuple[npt.NDArray[np.int64], list[object]]:
    """Return one group index per row (−1 for rows whose key is not public) and the key list.

    With ``public_keys`` equal to ``0..K−1`` and integer keys this is a range check, not a hash.
    Without public keys the observed keys are returned (for partition selection).
    """
    arr = np.ravel(np.asarray(keys))
    if public_keys is None:
        codes, uniques = pd.factorize(pd.Series(arr), sort=True)
        return codes.astype(np.int64), list(uniques)
    k = len(public_keys)
    if arr.dtype.kind in "iu" and public_keys == list(range(k)):
        codes = arr.astype(np.int64, copy=False)
        if codes.size == 0 or (int(codes.min()) >= 0 and int(codes.max()) < k):
            return codes, public_keys
        return np.where((codes >= 0) & (codes < k), codes, -1), public_keys
    index = pd.Index(public_keys)
    return index.get_indexer(pd.Index(arr)).astype(np.int64), public_keys


def group_moments(
    codes: npt.NDArray[np.int64],
    n_groups: int,
    values: npt.ArrayLike | None,
    lo: float,
    hi: float,
    inv_g: float,
    *,
    counts_needed: bool = True,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return per-group row counts and per-group sums of rint(clamp(x)/g) (NaN skipped), int64.

    Rows with code −1 are ignored. Chunks of ``CHUNK_ROWS`` rows keep each float64 partial sum
    exact (the caller's grid ensures ``CHUNK_ROWS · max|v| < 2**53``). Counts are zeros unless
    ``counts_needed``; sums are zeros without ``values``.
    """
    counts = np.zeros(n_groups, dtype=np.int64)
    sums = np.zeros(n_groups, dtype=np.int64)
    x = None if values is None else np.ravel(np.asarray(values, dtype=np.float64))
    all_valid = bool(codes.size == 0 or int(codes.min()) >= 0)
    if counts_needed:
        counts += np.bincount(codes if all_valid else codes[codes >= 0], minlength=n_groups)
    if x is None:
        return counts, sums
    step = CHUNK_ROWS  # a cache-sized buffer, reused: no page faults on a fresh array per call
    buf = np.empty(min(step, codes.size), dtype=np.float64)
    for start in range(0, codes.size, step):
        c = codes[start : start + step]
        v = x[start : start + step]
        w = buf[: v.size]
        np.clip(v, lo, hi, out=w)
        w *= inv_g
        np.rint(w, out=w)
        if not all_valid:
            keep = c >= 0
            c, w = c[keep], w[keep]
        part = np.bincount(c, weights=w, minlength=n_groups)
        if np.isnan(part).any():
            ok = ~np.isnan(w)
            part = np.bincount(c[ok], weights=w[ok], minlength=n_groups)
        sums += part.astype(np.int64)
    return counts, sums
