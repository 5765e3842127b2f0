"""Masked (absorbing-state) discrete diffusion over the held-out part of a cell's contacts.

Plain torch functions, independent of the network (DESIGN §3):

- :func:`binomial_split` thins counts into an observed part (the condition) and a held-out part (the target);
  :func:`pixel_split` holds out whole pixels instead (what a fine-scale split does at the pixel's own scale);
- :func:`sample_t` and :func:`mask_tokens` are the forward process: each valid target entry becomes MASK with
  probability ``t``;
- :func:`diffusion_loss` is the continuous-time ELBO of MDLM: cross-entropy on masked entries weighted by
  ``1/t``, averaged per valid entry; the network's logits cover value classes only, so MASK gets no mass;
- :func:`unmask_step` is one step of the reverse process (low-confidence remasking, as in MaskGIT/LLaDA);
  :func:`remask` is ReMDM's corrector (committed entries put back to MASK and redrawn);
- :func:`hide_bins` hides a run of bins from the observed channel, training the network to infill masked
  regions (:mod:`hicdiff.regions`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = 1e-3


def _per_example(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return x.view(-1, *([1] * (like.dim() - 1)))


def binomial_split(counts: torch.Tensor, rho: torch.Tensor, generator=None):
    """Split integer counts ``(B, ...)`` into ``(observed, heldout)``; each contact is held out with prob ``rho[b]``."""
    prob = _per_example(rho.to(counts.dtype), counts).expand_as(counts)
    heldout = torch.binomial(counts, prob, generator=generator)
    return counts - heldout, heldout


def pixel_split(counts: torch.Tensor, rho: torch.Tensor, generator=None):
    """Split counts ``(B, ...)`` into ``(observed, heldout)`` by whole pixels: each pixel, with all its
    contacts, is held out with probability ``rho[b]``. Duplicated contacts of a pixel never straddle the split."""
    u = torch.rand(counts.shape, generator=generator, device=counts.device)
    held = u < _per_example(rho.to(counts.dtype), counts)
    heldout = torch.where(held, counts, torch.zeros_like(counts))
    return counts - heldout, heldout


def sample_rho(n: int, low: float, high: float, generator=None, device=None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def sample_t(n: int, t_one_fraction: float = 0.0, eps: float = EPS, generator=None, device=None) -> torch.Tensor:
    """Diffusion times ``t = (1 - eps) u + eps``; a fraction of examples is set to ``t = 1`` (fully masked).

    DESIGN §3: time spent at small ``t`` costs the mean imputation, which runs at ``t = 1``; weighting the
    schedule towards 1 keeps the diffusion for sampling without giving that up.
    """
    u = torch.rand(n, generator=generator, device=device)
    t = (1 - eps) * u + eps
    one = torch.rand(n, generator=generator, device=device) < t_one_fraction
    return torch.where(one, torch.ones_like(t), t)


def mask_tokens(tokens: torch.Tensor, valid: torch.Tensor, t: torch.Tensor, mask_id: int, generator=None):
    """Forward process: each valid entry of example ``b`` becomes ``mask_id`` with probability ``t[b]``.

    Returns ``(noisy_tokens, masked)``.
    """
    u = torch.rand(tokens.shape, generator=generator, device=tokens.device)
    masked = (u < _per_example(t, tokens)) & valid
    return torch.where(masked, torch.full_like(tokens, mask_id), tokens), masked


def diffusion_loss(logits: torch.Tensor, target: torch.Tensor, masked: torch.Tensor, valid: torch.Tensor,
                   t: torch.Tensor) -> torch.Tensor:
    """MDLM loss: ``sum over masked entries of CE / t``, divided by the number of valid entries.

    ``logits``: ``(B, ..., K)`` over value classes; ``target``: ``(B, ...)`` class ids; ``masked``/``valid``: bool.
    """
    weight = (1.0 / _per_example(t, target)).expand_as(target)
    ce = F.cross_entropy(logits[masked].float(), target[masked], reduction="none")
    return (ce * weight[masked]).sum() / valid.sum().clamp(min=1)


def masked_cross_entropy(logits, target, masked) -> torch.Tensor:
    """Mean cross-entropy (nats) over masked entries: the validation figure at a fixed ``t``."""
    return F.cross_entropy(logits[masked].float(), target[masked])


def unmask_step(logits: torch.Tensor, tokens: torch.Tensor, masked: torch.Tensor, n_reveal: torch.Tensor,
                temperature: float = 1.0, generator=None, values: torch.Tensor | None = None):
    """One reverse step: reveal the ``n_reveal[b]`` most confident masked entries, each drawn from its
    predicted distribution; the rest stay masked.

    Confidence is the entry's largest class probability, a property of the position and not of the value
    drawn there, so the order favours certain entries first (as MaskGIT/LLaDA do) while every revealed value
    is still an unbiased draw: ranking by the probability of the drawn value instead would keep re-masking
    the rarer, larger counts and pull samples towards zero.

    ``logits``: ``(B, L, K)``; ``tokens``/``masked``: ``(B, L)``; ``n_reveal``: ``(B,)`` int.
    Returns the new ``(tokens, masked)``; with ``values`` (``(K,)``, each class's count) also ``(revealed,
    expected)``: the entries revealed now and every entry's expected count under this step's distribution
    (what a Rao-Blackwellised sample keeps instead of the draw).
    """
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    draw = torch.multinomial(flat, 1, generator=generator).view(tokens.shape)
    conf = torch.where(masked, probs.max(dim=-1).values, torch.full(masked.shape, -1.0, device=probs.device))
    order = conf.argsort(dim=1, descending=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    reveal = masked & (rank < n_reveal.view(-1, 1))
    out = torch.where(reveal, draw, tokens), masked & ~reveal
    if values is None:
        return out
    return (*out, reveal, probs @ values)


def remask(masked: torch.Tensor, valid: torch.Tensor, share: float, generator=None) -> torch.Tensor:
    """The corrector of ReMDM (Wang et al. 2025): put a random ``share`` of the committed (valid, unmasked)
    entries back to MASK, so that the next step redraws them given everything committed since.
    ``masked``/``valid``: ``(B, L)`` bool. Returns the new ``masked``."""
    if share <= 0:
        return masked
    u = torch.rand(masked.shape, generator=generator, device=masked.device)
    return masked | (valid & ~masked & (u < share))


def hide_bins(valid: torch.Tensor, fraction: float, generator=None) -> torch.Tensor:
    """Training for infilling (``hicdiff impute --mask-regions``): in a share ``fraction`` of windows, a run of
    bins hidden from the observed channel, as :mod:`hicdiff.regions` hides a masked region.

    ``valid``: ``(B, W, Dp)`` bool, row ``i``, column ``d - 1`` = pixel ``(i, i + d)`` of the window. A run's
    length is log-uniform in ``1..W/2`` bins (a few bins to a large deletion), its start uniform among the
    positions where it overlaps the window's rows; every entry whose row bin or column bin ``i + d`` lies in
    it is hidden. Returns ``hidden``, bool of ``valid``'s shape (False wherever ``valid`` is)."""
    b, w, dp = valid.shape
    dev = valid.device
    on = torch.rand(b, generator=generator, device=dev) < fraction
    longest = max(1, w // 2)
    length = torch.exp(torch.rand(b, generator=generator, device=dev) * math.log(longest + 1)).floor()
    length = length.clamp(1, longest)
    start = (torch.rand(b, generator=generator, device=dev) * (w + length - 1)).floor() - (length - 1)
    start, stop = start.view(-1, 1, 1), (start + length).view(-1, 1, 1)
    row = torch.arange(w, device=dev).view(1, -1, 1)
    col = row + torch.arange(1, dp + 1, device=dev).view(1, 1, -1)
    hidden = ((row >= start) & (row < stop)) | ((col >= start) & (col < stop))
    return hidden & valid & on.view(-1, 1, 1)
