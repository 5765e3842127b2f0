"""Training configuration: one dataclass of defaults, small YAML presets that override some of them.

:class:`TrainConfig` holds the model's fields (it extends :class:`~hicdiff.model.ModelConfig`) and the
training's. Its defaults are the ``small`` preset, the CPU default and the model measured in DESIGN §3;
``tiny`` (tests) and ``base`` (GPU) presets in ``hicdiff/presets/*.yaml`` list only what they change.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from importlib import resources

import yaml

from hicdiff.errors import HicdiffError
from hicdiff.model import ModelConfig

PRESETS = ("tiny", "small", "base")


@dataclass
class TrainConfig(ModelConfig):
    """Model fields (inherited) plus training fields. ``n_loci`` is set from the chromosomes, never configured."""

    locus_embedding: bool = True        # a learned embedding per genomic tile (n_loci from the chromosomes)

    # data
    chromosomes: list[str] | None = None   # None: default_chromosomes (no Y, M, random, unplaced)
    batch_size: int = 16                # windows per step
    rho_low: float = 0.1                # held-out fraction rho ~ U(rho_low, rho_high) per window
    rho_high: float = 0.5
    t_one_fraction: float = 0.8         # share of windows trained fully masked (t = 1), DESIGN §3
    pixel_split_fraction: float = 0.0   # share of windows split by whole pixels instead of single contacts
    region_mask_fraction: float = 0.0   # share of windows hiding a run of bins in the observed channel (infilling)
    prior_by: str | None = None         # train a prior channel: each cell's prior is the pool of the other training
                                        # cells with its value in this metadata column ("all": every training cell)
    prior_dropout: float = 0.3          # share of windows trained without their prior (classifier-free guidance)
    prior_neighbours: int = 5           # prior_by "neighbours": each cell's prior pools its k nearest training cells
    neighbours_from: str | None = None  # ... in the embedding of this model or .h5ad (None: the init model, or general)

    # optimisation
    lr: float = 1e-3
    min_lr_ratio: float = 0.1           # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_steps: int | None = 2000        # stop after this many steps ...
    max_minutes: float | None = None    # ... or after this much training time, whichever comes first

    # validation: fixed cells, windows, split and masks, so that numbers compare between runs
    val_fraction: float = 0.1
    val_min_cells: int = 2
    val_max_cells: int = 64             # at most this many (validation holds ~7 bytes per band entry of each)
    val_seed: int = 0                   # chooses the validation cells and draws their split and masks
    val_rho: float = 0.2
    val_t: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    val_every: int = 0                  # steps between validations during training (0: only at the end)
    val_batch_size: int = 64

    # bookkeeping
    seed: int = 0
    log_every: int = 50                 # steps between progress lines
    checkpoint_every: int = 500         # steps between checkpoint saves (0: only at the end)

    def model_config(self, n_loci: int) -> ModelConfig:
        """The :class:`ModelConfig` of this configuration for chromosomes spanning ``n_loci`` genomic tiles."""
        kw = {f.name: getattr(self, f.name) for f in fields(ModelConfig)}
        kw["n_loci"] = n_loci if self.locus_embedding else 0
        return ModelConfig(**kw)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("n_loci")
        return d

    def check(self) -> None:
        """Refuse settings that cannot train, with a message naming the field."""
        problems = []
        for name in ("n_classes", "tile_rows", "tile_diags", "max_diag", "window_rows", "width", "depth", "heads",
                     "mlp_ratio", "batch_size", "val_batch_size", "val_min_cells", "val_max_cells", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a whole number of at least 1, got {getattr(self, name)!r}")
        for name in ("warmup_steps", "val_every", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                problems.append(f"{name} must be a whole number of at least 0, got {getattr(self, name)!r}")
        for name in ("lr", "grad_clip"):
            if not (isinstance(getattr(self, name), (int, float)) and 0 < getattr(self, name) < float("inf")):
                problems.append(f"{name} must be a positive finite number, got {getattr(self, name)!r}")
        for name in ("dropout", "min_lr_ratio", "weight_decay"):
            if not (isinstance(getattr(self, name), (int, float)) and 0 <= getattr(self, name) < float("inf")):
                problems.append(f"{name} must be a finite number of at least 0, got {getattr(self, name)!r}")
        if not 0 < self.val_fraction < 1:
            problems.append(f"need 0 < val_fraction < 1, got {self.val_fraction!r}")
        if isinstance(self.val_max_cells, int) and isinstance(self.val_min_cells, int) \
                and self.val_max_cells < self.val_min_cells:
            problems.append(f"val_max_cells ({self.val_max_cells}) is below val_min_cells ({self.val_min_cells})")
        if self.max_minutes is not None and not 0 < self.max_minutes < float("inf"):
            problems.append(f"max_minutes must be a positive finite number, got {self.max_minutes!r}")
        if problems:
            raise HicdiffError("invalid training configuration: " + "; ".join(problems))
        if self.window_rows % self.tile_rows:
            problems.append(f"window_rows ({self.window_rows}) must be a multiple of tile_rows ({self.tile_rows})")
        if self.width % self.heads:
            problems.append(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        if not 0 < self.rho_low <= self.rho_high < 1:
            problems.append("need 0 < rho_low <= rho_high < 1")
        if not 0 < self.val_rho < 1:
            problems.append("need 0 < val_rho < 1")
        if not 0 <= self.pixel_split_fraction <= 1:
            problems.append("need 0 <= pixel_split_fraction <= 1")
        if not 0 <= self.region_mask_fraction <= 1:
            problems.append("need 0 <= region_mask_fraction <= 1")
        if not 0 <= self.prior_dropout < 1:
            problems.append("need 0 <= prior_dropout < 1")
        if self.prior_neighbours < 1:
            problems.append("need prior_neighbours >= 1")
        if not 0 <= self.t_one_fraction <= 1:
            problems.append("need 0 <= t_one_fraction <= 1")
        if not self.val_t or any(not 0 < t <= 1 for t in self.val_t):
            problems.append("val_t must list times in (0, 1]")
        elif 1.0 not in self.val_t:
            problems.append("val_t must include 1.0 (the headline val/ce_t1)")
        if self.max_steps is None and self.max_minutes is None:
            problems.append("set max_steps or max_minutes")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("max_steps must be at least 1")
        if problems:
            raise HicdiffError("invalid training configuration: " + "; ".join(problems))


def _read_yaml(text: str, source: str) -> dict:
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise HicdiffError(f"not a YAML file ({e})", source) from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise HicdiffError("a configuration must be a YAML mapping of field: value", source)
    return d


def _coerce(name, value, type_name: str, source: str):
    """Numbers as their field's type: YAML reads ``1e-3`` (no dot) as a string, and ``2`` for a float as an int."""
    kind = type_name.split("|")[0].strip()
    if value is None or kind not in ("int", "float"):
        return value
    try:
        number = float(value)
        if kind == "int" and number != int(number):
            raise ValueError
        return int(number) if kind == "int" else number
    except (TypeError, ValueError):
        raise HicdiffError(f"field {name} must be {'an integer' if kind == 'int' else 'a number'}, "
                           f"not {value!r} (in {source})") from None


def load_config(name_or_path: str | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from a preset name (``tiny``, ``small``, ``base``) or a YAML file, then ``overrides``.

    ``None`` gives the defaults (the ``small`` preset). Keys that are not fields are an error that lists them.
    """
    values = {}
    source = "defaults"
    if name_or_path is not None:
        name_or_path = str(name_or_path)
        if name_or_path in PRESETS:
            source = f"preset {name_or_path}"
            text = resources.files("hicdiff").joinpath("presets", f"{name_or_path}.yaml").read_text()
        elif os.path.isfile(name_or_path):
            source = name_or_path
            with open(name_or_path) as fh:
                text = fh.read()
        else:
            raise HicdiffError(f"no such configuration file or preset (presets: {', '.join(PRESETS)})",
                               name_or_path)
        values = _read_yaml(text, source)
    values.update(overrides)
    types = {f.name: str(f.type) for f in fields(TrainConfig)}
    if "n_loci" in values:
        raise HicdiffError(f"n_loci is set from the chromosomes, not configured (in {source}); "
                           "set locus_embedding: false for none")
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise HicdiffError(f"unknown configuration field(s) {', '.join(unknown)} in {source}")
    cfg = TrainConfig(**{k: _coerce(k, v, types[k], source) for k, v in values.items()})
    cfg.check()
    return cfg
