"""Feature tables for the categorical tokenizer: read, check, split, normalise.

A table is one row per sample and one named numeric column per feature. It comes from the user
(CSV, Parquet or ``.npz`` via :func:`read_table`), from scikit-learn's bundled breast-cancer and
wine data (offline) or from the seeded generators in :mod:`vq.tokenizer.synthetic`;
:func:`vq.tokenizer.table_sources.load_table` resolves a ``--data`` value to one of them.
Every problem a table can have that would only surface as a NaN loss or a silent wrong answer
mid-run (missing values, constant or non-numeric columns, too few rows) is a
:class:`TableError` that names the file and column before anything trains.

Normalisation statistics (per-feature mean and standard deviation, grouped by category in the
tokens) are fitted on the training split only, so validation metrics are held out honestly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


class TableError(ValueError):
    """A feature table that cannot be tokenized; the message names the file, the column and
    the fix."""


@dataclass(frozen=True)
class FeatureTable:
    """Named numeric features of one data set, with the planted grouping when one is known.

    ``groups[i]`` is the planted group of feature ``i`` (``-1``: a distractor that belongs to no
    group); ``None`` for real data, where no ground truth exists.

    Attributes:
        name: the data set's name.
        features: the column names.
        values: ``(rows, features)``.
        groups: the planted group of each feature (``-1``: none; ``None``: unknown).
    """

    name: str  # the data set's name, or the path of the file it was read from
    features: list[str]
    values: np.ndarray  # (samples, features) float64
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.features):
            raise ValueError(
                f"{self.name}: {len(self.features)} feature names for values of shape "
                f"{self.values.shape}"
            )


@dataclass(frozen=True)
class Normalizer:
    """Per-feature ``(x − mean) / std`` fitted on training rows (``std`` is never 0: constant
    columns are rejected by :func:`check_table`)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray) -> Normalizer:
        """Mean and standard deviation computed on each column divided by its largest
        magnitude, so that a column around 1e-300 (whose squares underflow to 0) or 1e155
        (whose squares overflow to inf) gets its true spread rather than 0 or inf."""
        scale = np.abs(train).max(0)
        scale = np.where(scale > 0, scale, 1.0)
        unit = train / scale
        mean = unit.mean(0)
        return cls(mean * scale, (unit - mean).std(0) * scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x / self.std - self.mean / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean


@dataclass(frozen=True)
class SplitTable:
    """A table split into training and validation rows, normalised with training statistics."""

    table: FeatureTable
    train: np.ndarray  # normalised float32
    val: np.ndarray  # normalised float32
    normalizer: Normalizer

    @property
    def features(self) -> list[str]:
        return self.table.features


def check_table(table: FeatureTable, min_rows: int, source: str | None = None) -> None:
    """Raise :class:`TableError` for NaN/inf values, constant columns or fewer rows than
    ``min_rows`` (the number of categories, or the validation split needs), naming columns."""
    where = source or table.name
    x = table.values
    bad = ~np.isfinite(x)
    if bad.any():
        col = int(np.nonzero(bad.any(0))[0][0])
        row = int(np.nonzero(bad[:, col])[0][0])
        n = int(bad.any(0).sum())
        more = f" (and {n - 1} more column{'s' * (n > 2)})" if n > 1 else ""
        line = f" (line {row + 2})" if where.lower().endswith(".csv") else ""
        raise TableError(
            f"{where}: column {table.features[col]!r} has a missing or infinite value in data "
            f"row {row + 1}{line}{more} (fix: drop or impute those rows, or leave the column out "
            "with --exclude)"
        )
    const = np.nonzero(np.ptp(x, axis=0) == 0)[0] if len(x) else np.array([], dtype=int)
    if len(const):
        names = ", ".join(repr(table.features[i]) for i in const[:5])
        raise TableError(
            f"{where}: column{'s' * (len(const) > 1)} {names} "
            f"{'are' if len(const) > 1 else 'is'} constant, so there is nothing to tokenize "
            "(fix: leave them out with --exclude)"
        )
    if len(x) < min_rows:
        raise TableError(
            f"{where}: {len(x)} rows, but at least {min_rows} are needed (more rows than "
            "categories in each of the training and validation splits); use more samples or "
            "fewer categories (--max-categories)"
        )
    if x.shape[1] < 2:
        raise TableError(f"{where}: {x.shape[1]} feature column(s); at least 2 are needed")


def split_table(table: FeatureTable, val_fraction: float = 0.2, seed: int = 0) -> SplitTable:
    """Shuffle rows with ``seed``, hold out ``val_fraction`` of them, fit the normaliser on the
    rest.

    Args:
        table: the table.
        val_fraction: the share of rows held out.
        seed: seeds the split.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = len(table.values)
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction))
    val_rows, train_rows = order[:n_val], order[n_val:]
    train = table.values[train_rows]
    if np.any(np.ptp(train, axis=0) == 0):
        i = int(np.nonzero(np.ptp(train, axis=0) == 0)[0][0])
        raise TableError(
            f"{table.name}: column {table.features[i]!r} is constant on the training rows "
            "(fix: use more rows or leave it out with --exclude)"
        )
    norm = Normalizer.fit(train)
    train_x, val_x = norm.transform(train), norm.transform(table.values[val_rows])
    spread = np.abs(norm.std) <= np.finfo(np.float64).eps * np.abs(norm.mean)
    bad = spread | ~np.isfinite(train_x).all(0) | ~np.isfinite(val_x).all(0)
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise TableError(
            f"{table.name}: column {table.features[i]!r} cannot be normalised in float64 (its "
            f"spread, {norm.std[i]:.3g}, is lost against its values, mean {norm.mean[i]:.3g}); "
            "fix: rescale or re-centre it, or leave it out with --exclude"
        )
    return SplitTable(table, train_x, val_x, norm)


# -- sources ----------------------------------------------------------------------------------------
def breast_cancer_table() -> FeatureTable:
    """scikit-learn's bundled Wisconsin breast-cancer features (569 × 30, named; no download)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return FeatureTable("breast-cancer", list(data.feature_names), data.data.astype(np.float64))


def wine_table() -> FeatureTable:
    """scikit-learn's bundled wine recognition features (178 × 13, named; no download)."""
    from sklearn.datasets import load_wine

    data = load_wine()
    return FeatureTable("wine", list(data.feature_names), data.data.astype(np.float64))


def read_table(
    path: str | os.PathLike[str],
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> FeatureTable:
    """A CSV, Parquet or ``.npz`` file as a :class:`FeatureTable`.

    CSV/Parquet: one row per sample, one named numeric column per feature; ``features`` picks
    columns (default: all), ``exclude`` drops some. ``.npz``: an array ``x`` (samples ×
    features) and optionally ``features`` (names) and ``groups`` (planted group per feature).

    Args:
        path: a ``.csv``, ``.parquet`` or ``.npz`` file.
        features: the columns to use (default: all numeric ones).
        exclude: columns to leave out.
    """
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file (give a .csv, .parquet or .npz table)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, features, exclude)
    try:
        if suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = _read_parquet(path)
        else:
            raise TableError(f"{path}: unknown table type {suffix!r} (use .csv, .parquet or .npz)")
    except ImportError as e:
        raise TableError(
            f"{path}: reading Parquet needs pyarrow (pip install 'dopesheet[parquet]'): {e}"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise TableError(f"{path}: cannot read the table: {str(e).strip()}") from None
    except ValueError as e:  # pyarrow's ArrowInvalid: not a Parquet file, a broken one
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TableError(
            f"{path}: cannot read it as {suffix.lstrip('.')}: {first} (is it really a "
            f"{suffix} file? A CSV must end in .csv)"
        ) from None
    return _from_frame(df, str(path), features, exclude)


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a frame; duplicate column names are refused (pandas cannot pick one
    of two equal names, and keeping either would silently drop the other)."""
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    _refuse_duplicates([str(n) for n in names], str(path))
    return pd.read_parquet(path)


def _refuse_duplicates(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            first = names.index(name)
            raise TableError(
                f"{where}: column name {name!r} appears twice (columns {first + 1} and {i + 1}); "
                "each feature needs its own name (fix: rename one of them)"
            )
        seen.add(name)


def pick_columns(
    columns: list[str], features: Sequence[str] | None, exclude: Sequence[str], where: str
) -> list[str]:
    from mini.suggest import did_you_mean

    for flag, names in (("--features", features or ()), ("--exclude", exclude)):
        for name in names:
            if name not in columns:
                hint = did_you_mean(name, columns)
                raise TableError(f"{where}: {flag} names column {name!r}, which it lacks{hint}")
    chosen = list(features) if features else list(columns)
    return [c for c in chosen if c not in set(exclude)]


def _from_frame(
    df: pd.DataFrame, where: str, features: Sequence[str] | None, exclude: Sequence[str]
) -> FeatureTable:
    columns = [str(c) for c in df.columns]
    _refuse_duplicates(columns, where)
    df.columns = columns
    picked = pick_columns(columns, features, exclude, where)
    for name in picked:
        col = df[name]
        if not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
            sample = next((v for v in col if not _is_number(v)), col.iloc[0] if len(col) else "")
            line = int(np.nonzero((col == sample).to_numpy())[0][0]) + 2 if len(col) else 1
            raise TableError(
                f"{where}:{line}: column {name!r} is not numeric (value {sample!r}); tokenize "
                f"numeric features only (fix: leave it out with --exclude {name!r}, or encode "
                "it as numbers first)"
            )
    return FeatureTable(where, picked, df[picked].to_numpy(dtype=np.float64))


def _is_number(v: object) -> bool:
    try:
        float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _read_npz(path: Path, features: Sequence[str] | None, exclude: Sequence[str]) -> FeatureTable:
    import zipfile
    import zlib

    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise TableError(
                f"{path}: this is a single .npy array, not an .npz archive (fix: save it with "
                "np.savez(path, x=array, features=names), or name it .npy and convert it)"
            )
        with loaded as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as e:
        raise TableError(
            f"{path}: cannot read the .npz file: {e} (save feature names as a string array, "
            "np.array(names, dtype=str); pickled objects are not loaded)"
        ) from None
    except (zipfile.BadZipFile, EOFError, zlib.error, KeyError) as e:
        raise TableError(
            f"{path}: the .npz archive is damaged or truncated ({e}); write it again"
        ) from None
    if "x" not in arrays:
        raise TableError(f"{path}: no array 'x' (samples × features) in {sorted(arrays)}")
    x = arrays["x"]
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise TableError(f"{path}: 'x' must be a 2-D numeric array, got {x.dtype} {x.shape}")
    names = [str(n) for n in arrays.get("features", [f"f{i}" for i in range(x.shape[1])])]
    if len(names) != x.shape[1]:
        raise TableError(f"{path}: {len(names)} names in 'features' for {x.shape[1]} columns")
    _refuse_duplicates(names, f"{path}: 'features'")
    groups = arrays.get("groups")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (x.shape[1],) or not np.issubdtype(groups.dtype, np.integer):
            raise TableError(
                f"{path}: 'groups' must hold one whole number per feature column ({x.shape[1]}; "
                f"-1 for a feature in no group), got {groups.dtype} {groups.shape}"
            )
    picked = pick_columns(names, features, exclude, str(path))
    idx = [names.index(n) for n in picked]
    groups = None if groups is None else groups[idx]
    return FeatureTable(str(path), picked, x[:, idx].astype(np.float64), groups)
