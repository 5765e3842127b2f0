import torch

from hicdiff.diffusion import binomial_split, diffusion_loss, mask_tokens, sample_t, unmask_step


def test_binomial_split_conserves_counts_and_rate():
    g = torch.Generator().manual_seed(0)
    counts = torch.full((2, 500, 40), 3.0)
    obs, held = binomial_split(counts, torch.tensor([0.1, 0.5]), g)
    assert torch.equal(obs + held, counts) and (held >= 0).all()
    frac = held.sum(dim=(1, 2)) / counts.sum(dim=(1, 2))
    assert abs(frac[0] - 0.1) < 0.01 and abs(frac[1] - 0.5) < 0.01


def test_mask_rate_and_validity():
    g = torch.Generator().manual_seed(1)
    tokens = torch.zeros(3, 200, 50, dtype=torch.long)
    valid = torch.ones_like(tokens, dtype=torch.bool)
    valid[:, :, 40:] = False
    t = torch.tensor([0.2, 0.7, 1.0])
    noisy, masked = mask_tokens(tokens, valid, t, 9, g)
    assert not masked[~valid].any() and (noisy[masked] == 9).all()
    rate = masked.sum(dim=(1, 2)) / valid.sum(dim=(1, 2))
    assert torch.allclose(rate, t, atol=0.02)


def test_sample_t_range_and_ones():
    t = sample_t(10000, t_one_fraction=0.5, generator=torch.Generator().manual_seed(2))
    assert t.min() >= 1e-3 and t.max() <= 1
    assert 0.45 < (t == 1).float().mean() < 0.55


def test_loss_is_weighted_by_inverse_t_per_valid_entry():
    target = torch.zeros(1, 4, dtype=torch.long)
    logits = torch.zeros(1, 4, 3)  # uniform: CE = log 3 per entry
    masked = torch.tensor([[True, False, False, False]])
    valid = torch.ones(1, 4, dtype=torch.bool)
    loss = diffusion_loss(logits, target, masked, valid, torch.tensor([0.25]))
    assert torch.isclose(loss, torch.log(torch.tensor(3.0)) / 0.25 / 4)


def test_unmask_step_reveals_most_confident():
    logits = torch.tensor([[[5.0, 0.0], [0.0, 0.1], [0.0, 9.0]]])
    tokens = torch.full((1, 3), 7)
    masked = torch.ones(1, 3, dtype=torch.bool)
    g = torch.Generator().manual_seed(0)
    new, still = unmask_step(logits, tokens, masked, torch.tensor([2]), generator=g)
    assert still.tolist() == [[False, True, False]]
    assert new[0, 0] == 0 and new[0, 2] == 1 and new[0, 1] == 7
