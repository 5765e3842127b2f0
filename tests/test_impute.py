"""Imputation: mean and sample modes on a tiny model trained on real cells, output format, API, bad input."""

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from hicdiff.cli import cli
from hicdiff.config import load_config
from hicdiff.errors import HicdiffError
from hicdiff.impute import SCALE, Imputer, impute_scool
from hicdiff.io import open_cells
from hicdiff.metrics import heldout_gain
from hicdiff.split import split_cells
from hicdiff._cellmaps import cell_bands

CHROMS = ["chr19", "chr20", "chr21", "chr22"]


@pytest.fixture(scope="module")
def trained(lee_scool, tmp_path_factory):
    from hicdiff.training import train

    tmp = tmp_path_factory.mktemp("impute")
    inp, held = str(tmp / "input.scool"), str(tmp / "heldout.scool")
    split_cells(str(lee_scool), inp, held, heldout_fraction=0.2, seed=0)
    cfg = load_config("tiny")
    cfg.max_steps = 600
    cfg.t_one_fraction = 0.5  # sample mode needs partly revealed targets in training too
    model = str(tmp / "tiny.ckpt")
    train(inp, model, cfg, device="cpu", threads=1)
    return {"input": inp, "heldout": held, "model": model, "tmp": tmp}


@pytest.fixture(scope="module")
def imputed(trained):
    out = str(trained["tmp"] / "imputed.scool")
    summary = impute_scool(trained["input"], trained["model"], out, device="cpu")
    assert summary["cells"] == 12
    return out


def test_output_is_float_band_with_observed_diagonal(trained, imputed):
    inp, out = open_cells(trained["input"]), open_cells(imputed)
    assert out.names == inp.names
    name = inp.names[0]
    c = out.cooler(name)
    meta = c.info["metadata"]
    assert meta["scale"] == SCALE and meta["parameters"]["mode"] == "mean"
    px = c.pixels()[:]
    assert px["count"].dtype == np.float32 and meta["precision"].startswith("float32")
    assert (np.diff(px["bin1_id"] * 10**9 + px["bin2_id"]) > 0).all()  # sorted, no duplicates
    max_diag = open_cells(imputed).info(name)["metadata"]["parameters"]["max_distance_bp"] // inp.resolution
    for chrom in CHROMS:
        n = inp.n_bins(chrom)
        cis = out.cis_pixels(name, chrom)
        d = cis.bin2_id - cis.bin1_id
        # every pixel of the band is written: sum over d of (n - d) pixels, plus the main diagonal
        assert (d >= 1).sum() == sum(n - k for k in range(1, min(max_diag, n - 1) + 1))
        obs = inp.cis_pixels(name, chrom)
        o0 = obs[obs.bin1_id == obs.bin2_id].set_index("bin1_id")["count"]
        i0 = cis[(d == 0) & (cis["count"] > 0)].set_index("bin1_id")["count"]
        assert i0.to_dict() == o0.astype(float).to_dict()
        assert (cis["count"] >= 0).all()


def test_imputed_depth_is_the_cells_own(trained, imputed):
    inp, out = open_cells(trained["input"]), open_cells(imputed)
    for name in inp.names[:4]:
        b_in = cell_bands(inp, name, 16, CHROMS)
        b_out = cell_bands(out, name, 16, CHROMS)
        total_in = sum(b.sum() for b, _ in b_in.values())
        total_out = sum(b.sum() for b, _ in b_out.values())
        assert 0.5 < total_out / total_in < 2.0


def test_tiny_model_beats_distance_decay_on_heldout_contacts(trained, imputed):
    out, held = open_cells(imputed), open_cells(trained["heldout"])
    gains = []
    for name in out.names:
        m, h = cell_bands(out, name, 16, CHROMS), cell_bands(held, name, 16, CHROMS)
        parts = [heldout_gain(m[c][0], h[c][0]) for c in CHROMS]
        gains.append(sum(p[0] for p in parts) / sum(p[2] for p in parts))
    assert np.mean(gains) > 0.05  # distance decay scores exactly 0


def test_api_cell_matches_file_and_needs_no_lightning(trained, imputed):
    imp = Imputer.from_checkpoint(trained["model"], device="cpu")
    cells = open_cells(trained["input"])
    res = imp.impute_cell(cells, cells.names[1])
    px = res.pixels(cells)
    ref = open_cells(imputed).pixels(cells.names[1])
    # whole chromosomes (the default at 1 Mb) batch windows of one cell differently from twelve: float noise
    # can turn a value's rounding to the 12 stored significand bits, one step of 2^-12 at most
    assert np.allclose(px["count"].to_numpy(), ref["count"].to_numpy(), rtol=2.0 ** -12)
    code = ("import sys, hicdiff; hicdiff.Imputer; import hicdiff.cli.impute; "
            "assert 'lightning' not in sys.modules and 'lightning.pytorch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sample_mean_approaches_mean_mode_and_std_tracks_sparsity(trained, tmp_path):
    imp = Imputer.from_checkpoint(trained["model"], device="cpu")
    cells = open_cells(trained["input"])
    name = cells.names[0]
    mean = imp.impute_cell(cells, name, chroms=["chr19"]).bands["chr19"]
    draws = imp.impute_cell(cells, name, chroms=["chr19"], mode="sample", samples=48, steps=4, seed=1)
    sampled = draws.bands["chr19"]
    assert abs(sampled.sum() / mean.sum() - 1) < 0.1
    per_diag = np.corrcoef(sampled.sum(0), mean.sum(0))[0, 1]
    assert per_diag > 0.95
    assert np.corrcoef(sampled.ravel(), mean.ravel())[0, 1] > 0.8
    # a sparser copy of the same cell (20% of its contacts) is more uncertain relative to its mean
    sparse_in, rest = str(tmp_path / "sparse.scool"), str(tmp_path / "rest.scool")
    split_cells(trained["input"], sparse_in, rest, heldout_fraction=0.8, seed=3, names=[name])
    sparse = imp.impute_cell(open_cells(sparse_in), name, chroms=["chr19"], mode="sample", samples=48, steps=4)

    def cv(r):
        m, s = r.bands["chr19"], r.std["chr19"]
        keep = m > 0
        return np.mean(s[keep] / m[keep])

    assert cv(sparse) > cv(draws)


def test_cli_sample_mode_writes_uncertainty_and_resume(trained, tmp_path):
    out, std = tmp_path / "s.scool", tmp_path / "std.scool"
    names = open_cells(trained["input"]).names
    r = CliRunner().invoke(cli, ["impute", trained["input"], "--model", trained["model"], "-o", str(out),
                                 "--mode", "sample", "--samples", "3", "--steps", "2", "--uncertainty", str(std),
                                 "--cells", ",".join(names[:2]), "--chromosomes", "chr21,chr22"])
    assert r.exit_code == 0, r.output
    assert open_cells(str(std)).names == names[:2]
    px = open_cells(str(std)).pixels(names[0])
    assert (px["count"] >= 0).all() and px["count"].max() > 0

    # an interrupted run: two cells in the partial file; --resume writes only the rest
    out2 = tmp_path / "r.scool"
    imp = Imputer.from_checkpoint(trained["model"], device="cpu")
    many = imp.impute_many

    def two_then_interrupt(*args, **kwargs):
        for k, res in enumerate(many(*args, **kwargs)):
            if k == 2:
                raise KeyboardInterrupt
            yield res

    imp.impute_many = two_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        impute_scool(trained["input"], trained["model"], str(out2), imputer=imp)
    assert (tmp_path / "r.scool.partial").exists() and not out2.exists()
    r = CliRunner().invoke(cli, ["impute", trained["input"], "--model", trained["model"], "-o", str(out2)])
    assert r.exit_code != 0 and "--resume" in r.output
    summary = impute_scool(trained["input"], trained["model"], str(out2), resume=True, device="cpu")
    assert summary["skipped"] == 2 and summary["cells"] == len(names) - 2
    assert sorted(open_cells(str(out2)).names) == sorted(names)


@pytest.mark.parametrize("case", ["missing-model", "not-a-model", "unknown-cell", "resolution", "uncertainty",
                                  "output-is-input"])
def test_bad_input_gets_a_clear_message(trained, tmp_path, data_dir, case):
    args = ["impute", trained["input"], "--model", trained["model"], "-o", str(tmp_path / "o.scool")]
    expect = {
        "missing-model": "no such model checkpoint",
        "not-a-model": "not a hicdiff model checkpoint",
        "unknown-cell": "cell name(s) not found: nosuchcell",
        "resolution": "does not match the model's 1000000 bp",
        "uncertainty": "--uncertainty needs --mode sample",
        "output-is-input": "output path is also an input",
    }[case]
    if case == "missing-model":
        args[3] = str(tmp_path / "none.ckpt")
    elif case == "not-a-model":
        args[3] = trained["input"]
    elif case == "unknown-cell":
        args += ["--cells", "nosuchcell"]
    elif case == "resolution":
        args[1] = str(data_dir / "gse100569_mouse_scool" / "scool_test_file.scool")
    elif case == "uncertainty":
        args += ["--uncertainty", str(tmp_path / "std.scool")]
    elif case == "output-is-input":
        args[-1] = trained["input"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2
    assert expect in r.output
    assert not (tmp_path / "o.scool").exists() and not (tmp_path / "o.scool.partial").exists()


def test_per_cell_cool_inputs(trained, tmp_path):
    """Two single-cell URIs of one .scool (the per-cell .cool path) impute like the .scool itself."""
    names = open_cells(trained["input"]).names[:2]
    uris = [f"{trained['input']}::/cells/{n}" for n in names]
    out = tmp_path / "two.scool"
    r = CliRunner().invoke(cli, ["impute", *uris, "--model", trained["model"], "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(open_cells(str(out)).names) == sorted(names)


# -- sample mode: Rao-Blackwellised draws, discrete draws and the ReMDM corrector ---------------------------


def _first_cell(trained, **kw):
    imp = Imputer.from_checkpoint(trained["model"], device="cpu")
    cells = open_cells(trained["input"])
    return imp.impute_cell(cells, cells.names[0], chroms=["chr19"], max_distance="band", **kw).bands["chr19"], imp


def test_one_step_expected_sample_is_mean_mode(trained):
    mean, imp = _first_cell(trained)
    cells = open_cells(trained["input"])
    one = imp.impute_cell(cells, cells.names[0], chroms=["chr19"], max_distance="band", mode="sample", samples=2,
                          steps=1, seed=4)
    assert np.allclose(one.bands["chr19"], mean, rtol=1e-4, atol=1e-6)
    # the uncertainty is the spread of the discrete draws, not of the (identical) expected values
    assert one.std["chr19"].max() > 0


def test_drawn_values_are_class_values_and_noisier_than_expected(trained):
    mean, imp = _first_cell(trained)
    drawn, _ = _first_cell(trained, mode="sample", samples=1, steps=4, seed=2, sample_values="drawn")
    first = drawn[: imp.cfg.window_rows // 2]     # rows of one window (the last window overlaps and averages)
    assert set(np.round(np.unique(first), 4)) <= set(np.round(imp.values.numpy(), 4))
    expected, _ = _first_cell(trained, mode="sample", samples=1, steps=4, seed=2)
    assert np.mean((expected - mean) ** 2) < 0.5 * np.mean((drawn - mean) ** 2)


def test_remask_changes_draws_and_options_are_checked(trained):
    opts = dict(mode="sample", samples=1, steps=4, seed=2, sample_values="drawn")
    a, _ = _first_cell(trained, **opts)
    b, _ = _first_cell(trained, **opts, remask=0.3)
    assert not np.array_equal(a, b)
    with pytest.raises(HicdiffError, match="remask"):
        _first_cell(trained, mode="sample", samples=1, steps=2, remask=1.0)
    with pytest.raises(HicdiffError, match="sample-values"):
        _first_cell(trained, mode="sample", samples=1, steps=2, sample_values="median")
