"""Each cell's nearest cells in an embedding, for guidance by neighbours (``--guide-neighbours K``).

A single cell holds few contacts at long range, and compartments live there: one cell's map says little
about which of its bins are A and which B. Its nearest cells in the model's embedding (``hicdiff embed``'s
``X_hicdiff``: cells of one type sit together, lee2019 ARI 0.98) share its compartments, so the pool of
their contacts is a prior that carries the cell's own type, not the average of every type in the file.
This is Higashi's neighbour sharing, done as guidance (:mod:`hicdiff.guidance`): the network sees the pool
beside the cell's own contacts and learns, in training, how far to trust it.

- :func:`nearest_cells`: the ``k`` nearest cells of each cell (Euclidean in the embedding, itself left out);
- :func:`cell_neighbours`: the same for a ``.scool``, from an ``.h5ad`` that ``hicdiff embed`` wrote or by
  embedding the cells with a model first.
"""

from __future__ import annotations

import logging

import numpy as np

from hicdiff.errors import HicdiffError

log = logging.getLogger(__name__)

#: Neighbours per cell when none is given: a few cells of one type (lee2019: 15 cells per type).
DEFAULT_NEIGHBOURS = 5

#: The embedding's key in ``obsm``.
EMBEDDING = "X_hicdiff"


def nearest_cells(x: np.ndarray, names, k: int, among=None) -> dict[str, list[str]]:
    """Cell name -> its ``k`` nearest cells (nearest first), Euclidean in the rows of ``x``; a cell is never
    its own neighbour. ``among``: only these names may be neighbours (default: every cell)."""
    names = [str(n) for n in names]
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(names):
        raise ValueError(f"embedding of shape {x.shape} for {len(names)} cells")
    pool = np.array([n in set(map(str, among)) for n in names]) if among is not None else np.ones(len(names), bool)
    k = int(k)
    if k < 1:
        raise HicdiffError(f"the number of neighbours must be at least 1, got {k}")
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    d2[~np.broadcast_to(pool, d2.shape)] = np.inf
    np.fill_diagonal(d2, np.inf)
    have = int(np.isfinite(d2).sum(1).min()) if len(names) else 0
    if have < k:
        raise HicdiffError(f"{k} neighbours asked for, but a cell has only {have} other cells to choose from")
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return {n: [names[j] for j in row] for n, row in zip(names, order)}


def read_embedding(path, names) -> np.ndarray:
    """``obsm["X_hicdiff"]`` of the ``.h5ad`` at ``path``, in the order of ``names`` (every one must be there)."""
    import anndata

    try:
        adata = anndata.read_h5ad(path)
    except FileNotFoundError:
        raise HicdiffError("no such file (embedding)", str(path)) from None
    except Exception as err:  # h5py / anndata raise several kinds on a file that is not AnnData
        raise HicdiffError(f"not an AnnData (.h5ad) file: {err}", str(path)) from None
    if EMBEDDING not in adata.obsm:
        raise HicdiffError(f"has no obsm[{EMBEDDING!r}] (write it with hicdiff embed)", str(path))
    index = {str(n): k for k, n in enumerate(adata.obs_names)}
    missing = [n for n in names if str(n) not in index]
    if missing:
        raise HicdiffError(f"has no embedding of {len(missing)} cell(s), e.g. {missing[0]!r}", str(path))
    return np.asarray(adata.obsm[EMBEDDING])[[index[str(n)] for n in names]]


def cell_neighbours(cells, k: int = DEFAULT_NEIGHBOURS, embedding=None, imputer=None, among=None,
                    chroms=None) -> dict[str, list[str]]:
    """The ``k`` nearest cells of every cell of ``cells`` (a :class:`~hicdiff.io.CellSet`).

    ``embedding``: an ``.h5ad`` from ``hicdiff embed`` (its ``X_hicdiff``), or a model (a checkpoint path,
    ``"general"``) to embed the cells with; default: ``imputer``'s model (:class:`~hicdiff.impute.Imputer`).
    ``among``: the cells that may be neighbours (default: all of them).
    """
    names = list(cells.names)
    if len(names) < 2:
        raise HicdiffError("guidance by neighbours needs at least 2 cells", cells.source)
    if embedding is not None and str(embedding).endswith(".h5ad"):
        x = read_embedding(embedding, names)
        how = str(embedding)
    else:
        from hicdiff.embed import embed_cells

        if embedding is None and imputer is None:
            raise ValueError("give an embedding or an imputer")
        log.info("embedding %d cells to find their neighbours", len(names))
        adata = embed_cells(cells, embedding, chroms=chroms, imputer=imputer if embedding is None else None,
                            pca=False)
        x = np.asarray(adata.obsm[EMBEDDING])
        how = f"the embedding of model {embedding or imputer.path}"
    out = nearest_cells(x, names, k, among=among)
    log.info("neighbours: %d per cell, from %s", k, how)
    return out
