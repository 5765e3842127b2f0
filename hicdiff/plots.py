"""Figures of an :class:`~hicdiff.evaluate.Evaluation` (matplotlib, Agg backend, one PNG each).

Every function takes the evaluation tables and a path, writes one figure and returns the path.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Headline metrics of the bar chart, with their axis labels.
BAR_METRICS = {
    "heldout_bits": "held-out bits / contact\nover distance alone",
    "scc": "SCC with reference\n(per cell)",
    "scc_pooled": "SCC with reference\n(pooled cells)",
    "compartment_corr": "compartment E1 |r|\n(per cell)",
    "compartment_corr_pooled": "compartment E1 |r|\n(pooled cells)",
    "insulation_corr": "insulation r\n(per cell)",
    "boundary_f1": "boundary F1\n(per cell)",
    "ari": "ARI of k-means",
    "knn_accuracy": "kNN label accuracy",
}


def _save(fig, path):
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return str(path)


def maps(example: dict, region, path, cell: str = "") -> str:
    """Side-by-side log maps of one region: held-out contacts, each method, the reference."""
    order = ["held-out", *[k for k in example if k not in ("held-out", "reference")], "reference"]
    keys = [k for k in order if k in example]
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.9), squeeze=False)
    chrom, start, end = region
    for ax, key in zip(axes[0], keys):
        m = example[key]
        # each map on its own colour scale: methods differ in scale only by their band sums
        top = np.quantile(m[m > 0], 0.99) if (m > 0).any() else 1.0
        ax.imshow(np.log1p(m / top * 100), cmap="Reds", interpolation="nearest")
        ax.set_title(key, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{cell}  {chrom}:{start / 1e6:g}-{end / 1e6:g} Mb (band only, log scale)", fontsize=9)
    return _save(fig, path)


def compartment_tracks(e1: pd.DataFrame, path) -> str:
    """E1 along one chromosome, one panel per method and the reference: pooled cells filled (A red, B blue),
    the example cell as a black line; signs turned to agree with the reference."""
    methods = [m for m in dict.fromkeys(e1["method"]) if m != "reference"] + ["reference"]
    fig, axes = plt.subplots(len(methods), 1, figsize=(8, 1.1 * len(methods) + 0.4), sharex=True, squeeze=False)
    for ax, m in zip(axes[:, 0], methods):
        for kind, g in e1[e1["method"] == m].groupby("kind", sort=False):
            x, y = g["start"].to_numpy() / 1e6, g["E1"].to_numpy()
            y = y / np.nanmax(np.abs(y)) if np.isfinite(y).any() and np.nanmax(np.abs(y)) > 0 else y
            if kind == "pooled":
                ax.fill_between(x, 0, y, where=y > 0, color="tab:red", step="post", lw=0)
                ax.fill_between(x, 0, y, where=y < 0, color="tab:blue", step="post", lw=0)
            else:
                ax.plot(x, y, color="k", lw=0.7, drawstyle="steps-post")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_ylabel(m, fontsize=8, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1, 0].set_xlabel(f"{e1['chrom'].iloc[0]} (Mb)")
    fig.suptitle("E1 (scaled to its largest value): pooled cells filled, example cell as a line", fontsize=9)
    return _save(fig, path)


def contact_probability(ps: pd.DataFrame, path) -> str:
    """P(s) curves of every method, the held-out contacts and the reference (log-log)."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for m, g in ps.groupby("method", sort=False):
        style = {"heldout": dict(color="k", lw=2), "reference": dict(color="grey", lw=2, ls="--")}.get(m, {})
        ok = g["P"] > 0
        ax.plot(g["distance"][ok] / 1e6, g["P"][ok], marker=".", label=m, **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("distance s (Mb)")
    ax.set_ylabel("P(s): contacts per pixel / band total")
    ax.legend(fontsize=7)
    return _save(fig, path)


def correlation_by_distance(corr: pd.DataFrame, path) -> str:
    """Per-stratum Pearson correlation with the reference (mean over cells) per method."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for m, g in corr.groupby("method", sort=False):
        ax.plot(g["distance"] / 1e6, g["pearson"], marker="o", ms=3, label=m)
    ax.set_xlabel("distance (Mb)")
    ax.set_ylabel("Pearson r with reference (smoothed)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=7)
    return _save(fig, path)


def embeddings(emb: pd.DataFrame, path) -> str:
    """PCA of the band features, one panel per method, cells coloured by label."""
    methods = list(dict.fromkeys(emb["method"]))
    labels = sorted(emb["label"].unique())
    colours = {lab: plt.cm.tab10(k % 10) for k, lab in enumerate(labels)}
    fig, axes = plt.subplots(1, len(methods), figsize=(2.8 * len(methods), 2.9), squeeze=False)
    for ax, m in zip(axes[0], methods):
        g = emb[emb["method"] == m]
        ax.scatter(g["pc1"], g["pc2"], s=6, c=[colours[lab] for lab in g["label"]])
        ax.set_title(m, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours[lab], label=lab) for lab in labels]
    fig.legend(handles=handles, loc="center right", fontsize=7)
    fig.supxlabel("PC1", fontsize=8)
    fig.supylabel("PC2", fontsize=8)
    return _save(fig, path)


def headline_bars(summary: pd.DataFrame, path) -> str:
    """One bar panel per headline metric, methods side by side."""
    cols = [c for c in BAR_METRICS if c in summary.columns and summary[c].notna().any()]
    fig, axes = plt.subplots(1, len(cols), figsize=(2.6 * len(cols), 3.4), squeeze=False, layout="constrained")
    colours = [plt.cm.tab10(k % 10) for k in range(len(summary))]
    for ax, c in zip(axes[0], cols):
        ax.bar(range(len(summary)), summary[c].fillna(0), color=colours)
        ax.set_xticks(range(len(summary)))
        ax.set_xticklabels(summary["method"], rotation=60, ha="right", fontsize=7)
        ax.set_title(BAR_METRICS[c], fontsize=8)
        ax.axhline(0, color="grey", lw=0.5)
    return _save(fig, path)
