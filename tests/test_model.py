import torch

from hicdiff.model import Denoiser, ModelConfig


def _inputs(cfg, b=2, rows=16):
    g = torch.Generator().manual_seed(0)
    obs = torch.randint(0, cfg.n_classes, (b, rows, cfg.padded_diags), generator=g)
    tgt = torch.full_like(obs, cfg.n_classes)
    return obs, tgt, torch.zeros(b, dtype=torch.long), torch.full((b,), -1.0), torch.ones(b), torch.full((b,), 1e6)


def test_shapes_and_no_mask_class():
    cfg = ModelConfig(width=32, depth=1, heads=2, max_diag=12, window_rows=16, n_loci=10)
    logits = Denoiser(cfg)(*_inputs(cfg))
    assert logits.shape == (2, 16, cfg.padded_diags, cfg.n_classes)  # K value classes, no MASK


def test_prediction_depends_on_the_pixels_own_observed_count():
    torch.manual_seed(0)
    cfg = ModelConfig(width=32, depth=1, heads=2, max_diag=8, window_rows=8)
    model = Denoiser(cfg).eval()
    obs, tgt, loc, dep, r, res = _inputs(cfg, b=1, rows=8)
    base = model(obs, tgt, loc, dep, r, res)
    obs2 = obs.clone()
    obs2[0, 5, 3] = (obs2[0, 5, 3] + 3) % cfg.n_classes
    moved = model(obs2, tgt, loc, dep, r, res)
    assert not torch.allclose(base[0, 5, 3], moved[0, 5, 3])
    # and it is bidirectional: an entry in an earlier tile sees the change too
    assert not torch.allclose(base[0, 0, 0], moved[0, 0, 0])


def test_portable_network_takes_distance_in_bp_and_the_resolution_as_context():
    torch.manual_seed(0)
    cfg = ModelConfig(width=32, depth=1, heads=2, max_diag=16, window_rows=8)
    model = Denoiser(cfg).eval()
    obs, tgt, loc, dep, r, res = _inputs(cfg, b=1, rows=8)
    at_1mb = model(obs, tgt, loc, dep, r, res)
    at_100kb = model(obs, tgt, loc, dep, r, res / 10)
    assert not torch.allclose(at_1mb, at_100kb)          # the resolution is seen ...
    # ... through continuous features: nothing in the network is sized by an assembly or a resolution
    assert not any(isinstance(m, torch.nn.Embedding) and m.num_embeddings in (cfg.diag_tiles,)
                   for name, m in model.named_modules() if name != "entries" and name != "row_pos")
    # the split unit is context too
    assert not torch.allclose(at_1mb, model(obs, tgt, loc, dep, r, res, torch.ones(1)))
