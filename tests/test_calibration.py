"""Calibration of the predictive distribution: the statistics, and hicdiff evaluate --model --input."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.calibration import PIT_BINS, draw_ranks, randomised_pit, summarise
from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.split import split_cells
from hicdiff.tokens import Tokenizer


def _forecast(n, k, rng):
    p = rng.dirichlet(np.full(k, 0.5), size=n)
    y = np.array([rng.choice(k, p=row) for row in p])
    return p, y


def _dev(pit):
    share = np.histogram(pit, bins=np.linspace(0, 1, PIT_BINS + 1))[0] / len(pit)
    return np.abs(share - 1 / PIT_BINS).max()


def test_pit_is_uniform_for_a_true_forecast_and_not_for_a_wrong_one():
    rng = np.random.default_rng(0)
    p, y = _forecast(20000, 6, rng)
    assert _dev(randomised_pit(p, y, rng)) < 0.01
    shifted = np.roll(p, 1, axis=1)          # the same shapes on the wrong classes
    assert _dev(randomised_pit(shifted, y, rng)) > 0.03


def test_ranks_among_exchangeable_draws_are_uniform_with_ties():
    rng = np.random.default_rng(1)
    p, y = _forecast(20000, 3, rng)            # few classes: many ties
    draws = np.stack([np.array([rng.choice(3, p=row) for row in p]) for _ in range(4)])
    share = np.bincount(draw_ranks(draws, y, rng), minlength=5) / len(y)
    assert np.abs(share - 0.2).max() < 0.015
    biased = np.zeros_like(draws)              # draws that are always class 0
    assert np.bincount(draw_ranks(biased, y, rng), minlength=5)[4] / len(y) > 0.4


def _poisson_classes(mean, tok):
    """Class probabilities of Poisson counts with ``mean`` under the tokenizer's value bins ``(n, K)``."""
    from scipy.stats import poisson

    tops = np.floor(tok.edges)                 # the largest count of each class but the open last one
    cdf = poisson.cdf(tops[None, :], mean[:, None])
    return np.diff(np.concatenate([np.zeros((len(mean), 1)), cdf, np.ones((len(mean), 1))], axis=1), axis=1)


def test_counts_scored_by_their_class_calibrate_and_a_forecast_at_twice_the_depth_does_not():
    rng = np.random.default_rng(2)
    tok = Tokenizer(8)
    mean = rng.gamma(0.4, 2.5, size=40000)     # sparse pixels and a few deep ones, as in a cell
    y = tok.encode(rng.poisson(mean))          # held-out counts scored by the class they fall in
    rank = np.zeros(len(y), int)               # no draws here
    right = summarise(randomised_pit(_poisson_classes(mean, tok), y, rng), 1 - _poisson_classes(mean, tok)[:, 0],
                      y > 0, rank, 1).metrics
    p2 = _poisson_classes(2 * mean, tok)
    wrong = summarise(randomised_pit(p2, y, rng), 1 - p2[:, 0], y > 0, rank, 1).metrics
    assert right["calibration_pit_max_dev"] < 0.01 and right["calibration_reliability_error"] < 0.01
    assert wrong["calibration_pit_max_dev"] > 0.03 and wrong["calibration_reliability_error"] > 0.05


@pytest.fixture(scope="module")
def split_and_model(lee_scool, tmp_path_factory):
    from hicdiff.training import train

    tmp = tmp_path_factory.mktemp("calibration")
    inp, held = str(tmp / "input.scool"), str(tmp / "heldout.scool")
    split_cells(str(lee_scool), inp, held, heldout_fraction=0.2, seed=0)
    model = str(tmp / "tiny.ckpt")
    train(inp, model, load_config("tiny", max_steps=60), device="cpu", threads=1)
    return inp, held, model, tmp


def test_evaluate_reports_calibration_for_the_model_only(split_and_model, tmp_path):
    inp, held, model, tmp = split_and_model
    run = CliRunner().invoke
    imputed, raw = str(tmp_path / "imputed.scool"), str(tmp_path / "raw.scool")
    assert run(cli, ["impute", inp, "--model", model, "-o", imputed, "--device", "cpu"]).exit_code == 0
    assert run(cli, ["baseline", inp, "--method", "raw", "-o", raw]).exit_code == 0
    out = tmp_path / "report"
    r = run(cli, ["evaluate", imputed, raw, "--heldout", held, "-o", str(out), "--model", model, "--input", inp,
                  "--calibration-cells", "3", "--calibration-samples", "3"])
    assert r.exit_code == 0, r.output
    m = pd.read_csv(out / "metrics.tsv", sep="\t").set_index("method")
    cols = [c for c in m.columns if "calibration" in c]
    assert "calibration_pit_max_dev" in cols and "calibration_coverage" in cols
    assert m.loc["hicdiff", cols].notna().all() and m.loc["raw", cols].isna().all()
    assert 0 <= m.loc["hicdiff", "calibration_pit_max_dev"] < 0.9
    assert m.loc["hicdiff", "calibration_coverage_nominal"] == pytest.approx(0.5)
    assert (out / "figures" / "calibration.png").stat().st_size > 0
    assert "not a distribution over counts" in (out / "report.md").read_text()
    bad = run(cli, ["evaluate", imputed, "--heldout", held, "-o", str(tmp_path / "r2"), "--model", model])
    assert bad.exit_code != 0 and "--input" in bad.output


def test_forecast_is_what_mean_mode_averages_and_a_draw_is_one_of_sample_mode(split_and_model):
    from hicdiff.impute import Imputer
    from hicdiff.io import open_cells

    inp, _, model, _ = split_and_model
    imp, cells = Imputer.from_checkpoint(model, device="cpu"), open_cells(inp)
    name = cells.names[1]
    probs = imp.forecast(cells, name, depth_ratio=0.5)
    mean = imp.impute_cell(cells, name, depth_ratio=0.5, max_distance="band")
    draw = imp.draw_classes(cells, name, depth_ratio=0.5, steps=3, seed=7)
    drawn = imp.impute_cell(cells, name, mode="sample", samples=1, steps=3, seed=7, depth_ratio=0.5,
                            sample_values="drawn", max_distance="band")
    values = imp.tokenizer.values
    shapes = {c: cells.n_bins(c) for c in probs}
    for c, p in probs.items():
        n, band = shapes[c], imp.cfg.max_diag
        assert p.shape == (n, band, imp.tokenizer.n_classes) and draw[c].shape == (n, band)
        once = np.zeros(n, int)                # rows in one window only (overlaps are averaged in mean mode)
        for j in imp._jobs(0, {c: n}, imp.cfg.window_rows):
            once[j.start: j.start + j.rows] += 1
        inside = np.arange(n)[:, None] + np.arange(1, band + 1)[None, :] < n
        np.testing.assert_allclose(p.sum(-1)[inside], 1, atol=1e-5)
        assert (p[~inside] == 0).all()
        rows = once == 1
        np.testing.assert_allclose((p @ values)[rows], mean.bands[c][rows], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(values[draw[c]][rows][inside[rows]], drawn.bands[c][rows][inside[rows]],
                                   rtol=1e-6)     # the same classes (float32 values there)
    again = imp.draw_classes(cells, name, depth_ratio=0.5, steps=3, seed=7)
    assert all((again[c] == draw[c]).all() for c in draw)
