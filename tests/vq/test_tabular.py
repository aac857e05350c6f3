"""Feature tables: reading CSV/Parquet/.npz, picking columns, and bad tables rejected clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vq.tokenizer.discovery import discover_categories
from vq.tokenizer.synthetic import synthetic_table, write_csv
from vq.tokenizer.table_sources import load_table
from vq.tokenizer.tabular import (
    FeatureTable,
    TableError,
    breast_cancer_table,
    check_table,
    read_table,
    split_table,
)


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.standard_normal((n, 4)), columns=["a", "b", "c", "d"])


def test_csv_parquet_and_npz_read_the_same_table(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")  # in the dev and parquet extras
    df = frame()
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    np.savez(tmp_path / "t.npz", x=df.to_numpy(), features=np.array(df.columns, dtype=str))
    tables = [read_table(tmp_path / f"t.{ext}") for ext in ("csv", "parquet", "npz")]
    for t in tables:
        assert t.features == ["a", "b", "c", "d"]
        np.testing.assert_allclose(t.values, df.to_numpy())


def test_features_and_exclude_pick_columns(tmp_path: Path) -> None:
    frame().to_csv(tmp_path / "t.csv", index=False)
    assert read_table(tmp_path / "t.csv", features=["d", "a"]).features == ["d", "a"]
    assert read_table(tmp_path / "t.csv", exclude=["b"]).features == ["a", "c", "d"]
    with pytest.raises(TableError, match=r"--exclude names column 'bb'.*did you mean 'b'"):
        read_table(tmp_path / "t.csv", exclude=["bb"])


def test_nan_is_rejected_naming_the_column_and_row(tmp_path: Path) -> None:
    df = frame()
    df.loc[7, "c"] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False)
    t = read_table(tmp_path / "t.csv")
    with pytest.raises(TableError, match=r"t\.csv: column 'c' has a missing.*data row 8"):
        check_table(t, 4, source=str(tmp_path / "t.csv"))


def test_constant_column_is_rejected(tmp_path: Path) -> None:
    df = frame()
    df["b"] = 3.0
    t = FeatureTable("t", list(df.columns), df.to_numpy())
    with pytest.raises(TableError, match=r"column 'b' is constant.*--exclude"):
        check_table(t, 4)


def test_fewer_rows_than_categories_is_rejected() -> None:
    t = FeatureTable("t", ["a", "b", "c"], np.random.default_rng(0).standard_normal((5, 3)))
    with pytest.raises(TableError, match=r"5 rows, but at least 12"):
        check_table(t, 12)


def test_non_numeric_column_is_rejected_naming_it_and_its_line(tmp_path: Path) -> None:
    df = frame()
    df["kind"] = ["x"] * len(df)
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(TableError, match=r"t\.csv:2: column 'kind' is not numeric"):
        read_table(tmp_path / "t.csv")
    assert "kind" not in read_table(tmp_path / "t.csv", exclude=["kind"]).features


def test_missing_file_and_unknown_type_are_table_errors(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "t.txt").write_text("a,b\n1,2\n")
    with pytest.raises(TableError, match="unknown table type"):
        read_table(tmp_path / "t.txt")


def test_normalisation_is_fitted_on_training_rows_only() -> None:
    t = synthetic_table(n_samples=500)
    s = split_table(t, 0.2, seed=1)
    assert s.train.shape == (400, 32) and s.val.shape == (100, 32)
    np.testing.assert_allclose(s.train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.train.std(0), 1, atol=1e-4)
    assert np.abs(s.val.mean(0)).max() > 1e-3  # held out: not centred by construction
    train_rows = np.random.default_rng(1).permutation(500)[100:]
    np.testing.assert_allclose(s.normalizer.inverse(s.train), t.values[train_rows], atol=1e-4)


def test_synthetic_table_is_seeded_and_plants_groups() -> None:
    a, b = synthetic_table(seed=3), synthetic_table(seed=3)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.values.shape == (4000, 32)
    assert sorted(np.bincount(a.groups[a.groups >= 0]).tolist()) == [5, 6, 8, 10]
    assert (a.groups == -1).sum() == 3


def test_breast_cancer_is_the_named_30_features() -> None:
    t = breast_cancer_table()
    assert t.values.shape == (569, 30) and t.groups is None
    assert t.features[0] == "mean radius"


def test_static_discovery_finds_the_planted_groups() -> None:
    t = synthetic_table()
    d = discover_categories(split_table(t).train, max_categories=6)
    grouped = t.groups >= 0
    from sklearn.metrics import adjusted_rand_score

    assert d.k == 4
    assert adjusted_rand_score(t.groups[grouped], d.labels[grouped]) == 1.0
    assert sorted(d.unattached) == sorted(np.nonzero(~grouped)[0].tolist())


def test_load_table_knows_the_built_in_sources(tmp_path: Path) -> None:
    assert load_table("synthetic").name == "synthetic"
    assert load_table("breast-cancer", exclude=["mean radius"]).values.shape == (569, 29)
    path = write_csv(synthetic_table(n_samples=50), tmp_path / "s.csv")
    assert load_table(str(path)).values.shape == (50, 32)


# -- hostile files: a clear TableError naming the file (and column), never a traceback -------------
def test_a_csv_renamed_parquet_is_a_table_error(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame().to_csv(tmp_path / "t.parquet", index=False)
    with pytest.raises(TableError, match=r"t\.parquet: cannot read it as parquet.*\.csv"):
        read_table(tmp_path / "t.parquet")


def test_parquet_with_duplicate_column_names_is_refused(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    df = frame()
    pq.write_table(pa.table([pa.array(df.a), pa.array(df.b)], names=["a", "a"]), tmp_path / "d.pq")
    with pytest.raises(TableError, match=r"d\.pq: column name 'a' appears twice \(columns 1 and 2"):
        read_table(tmp_path / "d.pq")


def test_an_npy_renamed_npz_is_a_table_error(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", frame().to_numpy())
    (tmp_path / "x.npy").rename(tmp_path / "x.npz")
    with pytest.raises(TableError, match=r"x\.npz: this is a single \.npy array"):
        read_table(tmp_path / "x.npz")


def test_a_truncated_npz_is_a_table_error(tmp_path: Path) -> None:
    np.savez(tmp_path / "full.npz", x=frame(400).to_numpy())
    data = (tmp_path / "full.npz").read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        (tmp_path / "t.npz").write_bytes(data[:cut])
        with pytest.raises(TableError, match=r"t\.npz: .*(damaged or truncated|cannot read)"):
            read_table(tmp_path / "t.npz")


def test_npz_groups_of_the_wrong_length_are_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "g.npz", x=frame().to_numpy(), groups=np.array([0, 1]))
    with pytest.raises(
        TableError, match=r"g\.npz: 'groups' must hold one whole number per feature"
    ):
        read_table(tmp_path / "g.npz")


def test_npz_duplicate_feature_names_are_refused(tmp_path: Path) -> None:
    names = np.array(["a", "b", "a", "d"])
    np.savez(tmp_path / "d.npz", x=frame().to_numpy(), features=names)
    with pytest.raises(TableError, match=r"d\.npz: 'features': column name 'a' appears twice"):
        read_table(tmp_path / "d.npz")


@pytest.mark.parametrize("magnitude", [1e-300, 1e-310, 1e155, 1e300])
def test_extreme_magnitudes_are_normalised_exactly(magnitude: float) -> None:
    """Squares of 1e-300 underflow to 0 and of 1e155 overflow to inf: the normaliser must
    neither divide by 0 (NaN in k-means) nor by inf (a column silently zeroed)."""
    x = frame(200).to_numpy().copy()
    x[:, 1] = x[:, 1] * magnitude + 3 * magnitude
    t = FeatureTable("t", ["a", "b", "c", "d"], x)
    check_table(t, 4)
    s = split_table(t)
    assert np.isfinite(s.train).all() and np.isfinite(s.val).all()
    np.testing.assert_allclose(s.train.std(0), 1, atol=1e-3)
    ref = split_table(FeatureTable("t", t.features, frame(200).to_numpy()))
    np.testing.assert_allclose(
        s.train[:, 1], ref.train[:, 1], atol=1e-3 if magnitude > 1e-305 else 0.05
    )


def test_a_column_whose_spread_is_below_float_precision_is_refused() -> None:
    x = frame(100).to_numpy().copy()
    x[:, 2] = 1e20 + x[:, 2] * 1e-2  # the spread is lost: 1e20 + 0.01 == 1e20 in float64
    x[0, 2] = 1e20 + 1e5
    with pytest.raises(TableError, match=r"column 'c' cannot be normalised"):
        split_table(FeatureTable("t", ["a", "b", "c", "d"], x))


def test_wine_is_the_named_13_features() -> None:
    t = load_table("wine")
    assert t.values.shape == (178, 13) and t.features[0] == "alcohol"
