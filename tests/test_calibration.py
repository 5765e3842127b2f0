"""Calibration of the predictive distribution: the statistics, and hicdiff evaluate --model --input."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hicdiff.calibration import PIT_BINS, draw_ranks, randomised_pit
from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.split import split_cells


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
