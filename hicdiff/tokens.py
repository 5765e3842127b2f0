"""Count-to-token discretisation.

Pixel counts become ``K`` value classes spaced in log2: class 0 is a count of 0, class 1 is 1, class 2 is 2,
and class ``k >= 3`` holds counts in ``(2**(k-2), 2**(k-1)]`` (3-4, 5-8, 9-16, ...); the last class is open-ended.
Two more token ids follow the value classes: ``MASK`` (= K) and ``PAD`` (= K + 1, outside the chromosome).
Each class carries a value, the mean raw count of the pixels that fall in it (fitted on data), so that an
expected count is ``sum_k p_k * value_k``. Counts 0, 1 and 2 round-trip exactly; larger counts map to their
class's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def log2_edges(n_classes: int) -> np.ndarray:
    """Upper bounds (exclusive) of classes ``0..K-2`` on the count scale: 0.5, 1.5, 2.5, 4.5, 8.5, ..."""
    if n_classes < 3:
        raise ValueError("n_classes must be at least 3")
    return np.array([0.5, 1.5] + [2.0 ** (k - 1) + 0.5 for k in range(2, n_classes - 1)])


def default_values(n_classes: int) -> np.ndarray:
    """Class values before fitting: the midpoint of each class's count range."""
    edges = log2_edges(n_classes)
    lo = np.concatenate([[0.0], np.ceil(edges)])
    hi = np.concatenate([np.floor(edges), [2 * np.floor(edges[-1])]])
    return (lo + hi) / 2


@dataclass
class Tokenizer:
    n_classes: int = 8
    values: np.ndarray = field(default=None)

    def __post_init__(self):
        self.edges = log2_edges(self.n_classes)
        if self.values is None:
            self.values = default_values(self.n_classes)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.shape != (self.n_classes,):
            raise ValueError(f"values must have {self.n_classes} entries")

    @property
    def mask_id(self) -> int:
        return self.n_classes

    @property
    def pad_id(self) -> int:
        return self.n_classes + 1

    @property
    def vocab_size(self) -> int:
        return self.n_classes + 2

    def encode(self, counts) -> np.ndarray:
        """Class of each count (int64, same shape)."""
        return np.searchsorted(self.edges, np.asarray(counts), side="right").astype(np.int64)

    def decode(self, tokens) -> np.ndarray:
        """Value of each class token (MASK and PAD are not values)."""
        tokens = np.asarray(tokens)
        if tokens.size and tokens.max() >= self.n_classes:
            raise ValueError("MASK/PAD tokens have no value")
        return self.values[tokens]

    def fit(self, counts) -> "Tokenizer":
        """Set each class's value to the mean of the counts that fall in it (classes never seen keep theirs)."""
        counts = np.asarray(counts, dtype=np.float64).ravel()
        tok = self.encode(counts)
        total = np.bincount(tok, weights=counts, minlength=self.n_classes)
        n = np.bincount(tok, minlength=self.n_classes)
        seen = n > 0
        self.values = np.where(seen, total / np.maximum(n, 1), self.values)
        return self

    def to_dict(self) -> dict:
        return {"n_classes": self.n_classes, "values": self.values.tolist()}

    @classmethod
    def from_dict(cls, d) -> "Tokenizer":
        return cls(n_classes=int(d["n_classes"]), values=np.asarray(d["values"], dtype=np.float64))
