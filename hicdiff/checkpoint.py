"""The checkpoint: one plain file, loadable without Lightning.

A dict saved with ``torch.save``: ``format``, ``hicdiff_version``, ``model_config``, ``state_dict`` (the
:class:`~hicdiff.model.Denoiser` weights), ``tokenizer`` (classes and fitted class values), ``layout``
(resolution, chromosomes and their lengths), ``training`` (the training configuration), ``data`` (a summary of
the training cells; ``inputs``, ``resolutions`` and ``assemblies`` record every input) and ``step``.

``general`` names the model shipped inside the package (``hicdiff/models/general.ckpt``, docs/models.md),
loaded from the installed files without network access.
"""

from __future__ import annotations

import os

import torch

from hicdiff import __version__
from hicdiff.errors import HicdiffError
from hicdiff.model import Denoiser, ModelConfig
from hicdiff.tokens import Tokenizer
from hicdiff.windows import Layout

FORMAT = "hicdiff-checkpoint-1"
SHIPPED = ("general",)


def resolve_model(name_or_path) -> str:
    """The file of a model: a shipped model's name (``general``) or a checkpoint path as given."""
    name = str(name_or_path)
    if name in SHIPPED and not os.path.exists(name):
        from importlib import resources

        path = resources.files("hicdiff").joinpath("models", f"{name}.ckpt")
        if not path.is_file():
            raise HicdiffError(f"the shipped model {name!r} is missing from this installation ({path})")
        return str(path)
    return name


def save_checkpoint(path, model: Denoiser, tokenizer: Tokenizer, layout: Layout, training: dict | None = None,
                    data: dict | None = None, step: int = 0) -> None:
    """Write the checkpoint to ``PATH.partial`` and rename it, so a crash never leaves a truncated file."""
    ckpt = {
        "format": FORMAT,
        "hicdiff_version": __version__,
        "model_config": model.cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "tokenizer": tokenizer.to_dict(),
        "layout": layout.to_dict(),
        "training": training or {},
        "data": data or {},
        "step": int(step),
    }
    tmp = f"{path}.partial"
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def untrained_checkpoint(path, cells, cfg, chroms=None) -> str:
    """Write an untrained model of config ``cfg`` (a :class:`~hicdiff.config.TrainConfig`) for the layout of
    ``cells`` (``chroms``, default: :func:`~hicdiff.windows.default_chromosomes`) to ``path``: for timing and
    format checks, where the weights do not matter. Returns ``path``."""
    from hicdiff.windows import default_chromosomes

    layout = Layout.from_cellset(cells, list(chroms or default_chromosomes(cells)), cfg.tile_rows)
    save_checkpoint(path, Denoiser(cfg.model_config(layout.n_loci)), Tokenizer(cfg.n_classes), layout)
    return str(path)


def load_checkpoint(path, device="cpu"):
    """``(model in eval mode, tokenizer, layout, checkpoint dict)`` from a checkpoint file."""
    path = resolve_model(path)
    if not os.path.exists(path):
        raise HicdiffError("no such model checkpoint", path)
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise HicdiffError(f"not a hicdiff model checkpoint ({type(e).__name__})", path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise HicdiffError(f"not a hicdiff model checkpoint (expected format {FORMAT})", path)
    # checkpoints written before the portable network have no "portable" field: theirs counts tiles
    model = Denoiser(ModelConfig(**{"portable": False, **ckpt["model_config"]}))
    model.load_state_dict(ckpt["state_dict"])
    model.to(device).eval()
    return model, Tokenizer.from_dict(ckpt["tokenizer"]), Layout.from_dict(ckpt["layout"]), ckpt
