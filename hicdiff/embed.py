"""Cell embeddings from a trained model, as AnnData for scanpy (``hicdiff embed``).

``obsm["X_hicdiff"]``: the model's own view of each cell. The denoiser's final LayerNorm (``model.norm``)
outputs one state per tile, ``(windows, tiles, width)``; a forward hook collects them while the cell is
imputed (``mean`` mode), so the network is not touched. Three steps make the states compare across cells:

1. **Depth matching.** The states carry the cell's sequencing depth (the model is told it, and every token
   depends on it): on lee2019 the first principal component of raw states is depth (|r| = 0.9) and k-means
   splits cells by depth, not type. So each cell is first thinned (binomial, seeded by the cell's name) to a
   common number of band contacts, ``depth`` (default: the 10th percentile over the cells; shallower cells
   are kept whole), and the states are those of the thinned cell.
2. **Per-locus states, centred.** A cell's states form a map ``(loci, diagonal tiles, width)`` (loci: tiles
   of ``tile_rows`` bins along the genome). Each diagonal tile's mean over the loci is subtracted, removing
   what is common to the whole cell at that distance. Cell types differ at particular loci: pooling over the
   genome (one mean per distance band) keeps too little (lee2019: ARI 0.47 against 0.98).
3. **PCA** of the flattened maps across cells, ``n_components`` components (not standardised: every
   feature is a state coordinate on one scale).

``obsm["X_pca"]``: PCA of the cells' imputed maps at full depth, as band features (``log2(1 + O/E)`` of every
band pixel, :func:`hicdiff.metrics.band_features`), the representation ``hicdiff evaluate`` scores.
Measurements are in docs/embedding.md.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from hicdiff import __version__, metrics
from hicdiff._cellmaps import cell_bands
from hicdiff.errors import HicdiffError
from hicdiff.io import CellSet, open_cells
from hicdiff.merge import _float_counts
from hicdiff.progress import Progress
from hicdiff.split import cell_rng

log = logging.getLogger(__name__)

#: Quantile of the cells' band contacts that every cell is thinned to before its states are read.
DEPTH_QUANTILE = 0.1


class StateRecorder:
    """Forward hook on a :class:`~hicdiff.model.Denoiser`'s final LayerNorm: keeps each forward pass's
    output ``(windows, tiles, width)`` until :meth:`take` hands them over."""

    def __init__(self, model):
        self._states = []
        self._handle = model.norm.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self._states.append(output.detach().float().cpu())

    def take(self) -> list[np.ndarray]:
        """States of the windows run since the last call, one ``(tiles, width)`` array per window (windows of
        a band wider than a chromosome follow its triangle, so their tiles differ)."""
        out = [w for batch in self._states for w in batch.numpy()]
        self._states = []
        return out

    def remove(self) -> None:
        self._handle.remove()


def state_map(imputer, states, shapes: dict) -> np.ndarray:
    """One cell's window states -> its map ``(loci, diagonal tiles, width)``, chromosomes in order.

    ``states`` are the windows of one cell in the order :class:`~hicdiff.impute.Imputer` runs them (its
    forward passes, by window shape), one ``(tiles, width)`` array each; rows of padding past a chromosome's
    end are dropped, overlaps keep the later window, and a window that reaches fewer diagonal tiles (a band
    wider than its chromosome) leaves the rest zero.
    """
    cfg = imputer.cfg
    tr, td, cols = cfg.tile_rows, cfg.tile_diags, cfg.diag_tiles
    # forward passes run windows of one shape together, so states come in the passes' order
    jobs = [j for batch in imputer._batches(imputer._jobs(0, shapes, imputer.stride)) for j in batch]
    if len(jobs) != len(states):
        raise HicdiffError(f"expected {len(jobs)} windows of states, got {len(states)}")
    offsets, total = {}, 0
    for c, n in shapes.items():
        offsets[c], total = total, total + -(-n // tr)
    out = np.zeros((total, cols, states[0].shape[-1] if len(states) else 0), np.float32)
    for job, s in zip(jobs, states):
        tiles = -(-(min(job.start + job.rows, shapes[job.chrom]) - job.start) // tr)
        lo = offsets[job.chrom] + job.start // tr
        reach = min(job.diags // td, cols)
        out[lo: lo + tiles, :reach] = s.reshape(-1, job.diags // td, s.shape[-1])[:tiles, :reach]
    return out


def thinning(depths: dict, target: float, seed: int = 0):
    """A band transform for :meth:`~hicdiff.impute.Imputer.impute_many`: each cell binomially thinned to
    ``target`` band contacts (``depths[name]``: its own), seeded by the cell's name; shallower cells whole."""

    def thin(name, bands):
        keep = target / max(depths[name], 1.0)
        if keep >= 1.0:
            return bands
        rng = cell_rng(seed, name)
        return {c: (rng.binomial(b.astype(np.int64), keep).astype(b.dtype), d0) for c, (b, d0) in bands.items()}

    return thin


def _obs(cells: CellSet, depths: pd.Series) -> pd.DataFrame:
    obs = cells.metadata().reindex(cells.names)
    for col in obs.columns:
        numeric = pd.to_numeric(obs[col], errors="coerce")
        obs[col] = numeric if numeric.notna().all() else obs[col].astype(str).astype("category")
    obs["contacts"] = cells.contacts_per_cell().reindex(cells.names).to_numpy()
    obs["band_contacts"] = depths.to_numpy()
    obs.index = pd.Index(cells.names, name="cell", dtype=str)
    return obs


def _pca(x: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = max(1, min(n_components, x.shape[0] - 1, x.shape[1]))
    return PCA(n_components=k, random_state=seed).fit_transform(x - x.mean(axis=0)).astype(np.float32)


def embed_cells(inputs, model, n_components: int = 10, pca_components: int = 20, depth: float | None = None,
                clusters: int | None = None, chroms=None, device="auto", threads=None, batch_size=64, seed=0,
                imputer=None, pca: bool = True):
    """Embed every cell of ``inputs`` with a trained model; returns an :class:`anndata.AnnData`.

    Parameters
    ----------
    inputs : str or list of str or CellSet
        A ``.scool`` of raw cells (or per-cell coolers), or the cells opened.
    model : str
        Checkpoint from ``hicdiff train``.
    n_components : int
        Dimensions of ``X_hicdiff``.
    pca_components : int
        Dimensions of ``X_pca`` (PCA of the imputed band features).
    pca : bool
        Compute ``X_pca`` (an imputation pass over every cell); ``False`` gives ``X_hicdiff`` alone, at about
        half the cost (what guidance by neighbours needs).
    depth : float, optional
        Band contacts every cell is thinned to before its states are read (default: the 10th percentile
        over the cells).
    clusters : int, optional
        Also cluster ``X_hicdiff`` by k-means into this many clusters: ``obs["hicdiff_cluster"]``.
    chroms, device, threads, batch_size
        As for :func:`hicdiff.impute.impute_scool`.
    seed : int
        Thinning, PCA and k-means.

    Returns
    -------
    AnnData
        ``obs``: one row per cell, named as in the input, with the stored metadata (labels), ``contacts``
        and ``band_contacts``; ``obsm``: ``X_hicdiff``, ``X_pca``; ``uns["hicdiff"]``: model and parameters.
        ``X`` is empty (no variables).
    """
    import anndata

    from hicdiff.impute import Imputer

    imp = imputer or Imputer.from_checkpoint(model, device=device, threads=threads, batch_size=batch_size)
    cells = inputs if isinstance(inputs, CellSet) else open_cells(inputs)
    chroms = imp.chromosomes(cells, chroms)
    imp.check(cells, chroms)
    if len(cells) < 2:
        raise HicdiffError("an embedding needs at least 2 cells", cells.source)
    if _float_counts(cells.uris[cells.names[0]]):
        raise HicdiffError("holds float (imputed) counts; hicdiff embed reads raw cells, as hicdiff impute does",
                           cells.source)
    shapes = {c: cells.n_bins(c) for c in chroms}

    depths = {}

    def record_depth(name, bands):
        depths[name] = float(sum(b.sum() for b, _ in bands.values()))
        return bands

    x_pca = None
    if pca:
        features = []
        with Progress(len(cells), "imputed", unit="cells", logger=log) as bar:
            for res in imp.impute_many(cells, cells.names, chroms=chroms, transform=record_depth,
                                       max_distance="band"):
                features.append(metrics.band_features(res.bands))
                bar.update()
        x_pca = _pca(np.vstack(features), pca_components, seed)
        del features
    else:
        # the band contacts the imputation pass would have recorded, read without imputing
        for name in cells.names:
            record_depth(name, cell_bands(cells, name, imp.cfg.max_diag, chroms, dtype=np.float32))
    depths = pd.Series(depths).reindex(cells.names)
    target = float(depth) if depth else float(np.quantile(depths.to_numpy(), DEPTH_QUANTILE))
    log.info("states of %d cells thinned to %.0f band contacts (median %.0f)", len(cells), target,
             depths.median())

    recorder = StateRecorder(imp.model)
    thin = thinning(depths, target, seed)
    maps = None
    try:
        with Progress(len(cells), "embedded", unit="cells", logger=log) as bar:
            for k, name in enumerate(cells.names):
                # one cell per call, so every state recorded belongs to it
                next(imp.impute_many(cells, [name], chroms=chroms, transform=thin, max_distance="band"))
                m = state_map(imp, recorder.take(), shapes)
                m -= m.mean(axis=0, keepdims=True)
                if maps is None:
                    maps = np.empty((len(cells), m.size), np.float32)
                maps[k] = m.ravel()
                bar.update()
    finally:
        recorder.remove()
    x_hicdiff = _pca(maps, n_components, seed)
    del maps

    obs = _obs(cells, depths)
    params = {"n_components": int(x_hicdiff.shape[1]),
              "pca_components": int(x_pca.shape[1]) if x_pca is not None else 0,
              "depth": target, "chromosomes": chroms, "seed": int(seed),
              "max_distance_bp": int(imp.cfg.max_diag * cells.resolution),
              "states": "final LayerNorm (model.norm), per locus tile and diagonal tile, centred per cell"}
    if clusters:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=int(clusters), n_init=10, random_state=seed).fit_predict(x_hicdiff)
        obs["hicdiff_cluster"] = pd.Categorical([f"c{k}" for k in km])
        params["clusters"] = int(clusters)
    uns = {"hicdiff": {"model": str(model), "model_step": int(imp.checkpoint.get("step") or 0),
                       "hicdiff_version": __version__, "resolution": int(cells.resolution),
                       "source": cells.source, "parameters": params}}
    obsm = {"X_hicdiff": x_hicdiff} if x_pca is None else {"X_hicdiff": x_hicdiff, "X_pca": x_pca}
    return anndata.AnnData(obs=obs, obsm=obsm, uns=uns)


def write_h5ad(adata, output) -> str:
    """Write ``adata`` to ``output`` under a temporary name, then rename it (no half-written file)."""
    output = str(output)
    parent = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(parent):
        raise HicdiffError(f"output folder {parent} does not exist", output)
    tmp = f"{output}.partial"
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return output


def write_clusters(adata, path, key: str = "hicdiff_cluster") -> str:
    """``cell<TAB>cluster`` of every cell, for ``hicdiff pool --by``."""
    if key not in adata.obs:
        raise HicdiffError(f"no {key!r} in the embedding's obs; ask for --clusters K")
    table = pd.DataFrame({"cell": adata.obs_names, "cluster": adata.obs[key].astype(str).to_numpy()})
    table.to_csv(path, sep="\t", index=False)
    return str(path)


def run_embed(inputs, model, output, clusters_tsv=None, **kwargs):
    """The ``hicdiff embed`` command: :func:`embed_cells`, then the ``.h5ad`` (and the clusters' TSV)."""
    adata = embed_cells(inputs, model, **kwargs)
    write_h5ad(adata, output)
    if clusters_tsv:
        write_clusters(adata, clusters_tsv)
    log.info("wrote %d cells (X_hicdiff: %d dims, X_pca: %d dims) to %s", adata.n_obs,
             adata.obsm["X_hicdiff"].shape[1], adata.obsm["X_pca"].shape[1], output)
    return adata


def embedding_summary(adata, labels: pd.Series | None = None, label_column: str = "cell_type"):
    """What ``hicdiff evaluate --embedding`` reports of an embedding: ``(table, scatter)``.

    ``table``: per representation (``X_hicdiff``, ``X_pca``) the ARI of k-means (k = number of labels) with
    the labels and the leave-one-out 5-NN accuracy, plus the ARI of ``obs["hicdiff_cluster"]`` when present.
    ``scatter``: the first two principal components of each representation per cell, with its label (columns
    of :func:`hicdiff.plots.embeddings`). Labels: ``labels`` when given, else ``obs[label_column]``.
    """
    import anndata
    from sklearn.metrics import adjusted_rand_score

    if not isinstance(adata, anndata.AnnData):
        adata = anndata.read_h5ad(adata)
    if labels is not None:
        lab = pd.Series(labels).reindex(adata.obs_names)
    elif label_column in adata.obs:
        lab = adata.obs[label_column].astype(str)
    else:
        lab = pd.Series("all", index=adata.obs_names)
    keep = lab.notna().to_numpy()
    lab = lab[keep].astype(str).to_numpy()
    rows, points = [], []
    for key in ("X_hicdiff", "X_pca"):
        x = np.asarray(adata.obsm[key], np.float64)[keep]
        out = metrics.separation(x, lab, x.shape[1], 5, 0)
        row = {"representation": key, "dims": x.shape[1], "ari": out["ari"], "knn_accuracy": out["knn_accuracy"]}
        if key == "X_hicdiff" and "hicdiff_cluster" in adata.obs:
            row["cluster_ari"] = adjusted_rand_score(lab, adata.obs["hicdiff_cluster"].astype(str).to_numpy()[keep])
        rows.append(row)
        e = out["embedding"]
        points.append(pd.DataFrame({"method": key, "cell": adata.obs_names[keep], "label": lab,
                                    "pc1": e[:, 0], "pc2": e[:, 1] if e.shape[1] > 1 else 0.0}))
    return pd.DataFrame(rows), pd.concat(points, ignore_index=True)
