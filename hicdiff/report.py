"""Write an :class:`~hicdiff.evaluate.Evaluation` to a folder: tables, figures and ``report.md``.

Files: ``metrics.tsv`` and ``metrics.json`` (one row per method, plus the run information in the JSON),
``cells.tsv`` (per method and cell), ``pooled.tsv`` (pooled cells per reference group),
``contact_probability.tsv``, ``correlation_by_distance.tsv``, ``embeddings.tsv``, ``compartments.tsv`` (E1
of one chromosome per method and the reference), ``figures/*.png`` and
``report.md`` which puts them together.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from hicdiff import plots

#: What each summary column means, for the report's legend (details in docs/evaluation.md).
DESCRIPTIONS = {
    "cells": "cells evaluated",
    "heldout_bits": "held-out log-likelihood, bits per held-out contact over distance alone (within-diagonal, "
                    "DESIGN §5; decay = 0, higher is better)",
    "heldout_bits_joint": "the same normalised over the chromosome's whole band, over a flat map",
    "scc": "stratum-adjusted correlation with the cell's reference, mean over cells",
    "scc_pooled": "SCC of the pooled imputed cells with their group's reference",
    "compartment_corr": "|Pearson r| of compartment eigenvectors (E1) with the reference, mean over cells",
    "compartment_corr_pooled": "the same for pooled imputed cells",
    "insulation_corr": "Pearson r of insulation profiles with the reference, mean over cells",
    "insulation_corr_pooled": "the same for pooled imputed cells",
    "boundary_f1": "F1 of insulation boundaries against the reference's, mean over cells",
    "boundary_f1_pooled": "the same for pooled imputed cells",
    "ps_mae_log10": "mean |log10 P(s) - log10 P_heldout(s)| of the mean P(s) curves (lower is better)",
    "ari": "adjusted Rand index of k-means clusters (PCA of band features) with the labels",
    "knn_accuracy": "leave-one-out kNN label accuracy in the same PCA space",
}


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    return x


def _markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = []
        for v in row:
            if isinstance(v, (float, np.floating)):
                cells.append("" if not np.isfinite(v) else f"{v:.{digits}f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(ev, folder, embedding=None) -> dict[str, str]:
    """Write tables, figures and ``report.md`` of an evaluation into ``folder`` (created if needed).

    ``embedding``: ``(table, scatter)`` of a ``hicdiff embed`` file (:func:`hicdiff.embed.embedding_summary`).

    Returns
    -------
    dict
        What was written: name -> path.
    """
    folder = Path(folder)
    figs = folder / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    out = {}
    tables = {"metrics": ev.summary, "cells": ev.cells, "pooled": ev.pooled,
              "contact_probability": ev.contact_probability,
              "correlation_by_distance": ev.correlation_by_distance, "embeddings": ev.embeddings,
              "compartments": ev.compartments}
    for name, df in tables.items():
        if len(df):
            out[name] = str(folder / f"{name}.tsv")
            df.to_csv(out[name], sep="\t", index=False, float_format="%.6g")
    out["json"] = str(folder / "metrics.json")
    with open(out["json"], "w") as fh:
        json.dump(_json_safe({"metrics": ev.summary.to_dict(orient="records"), "info": ev.info}), fh, indent=2)

    region = ev.info.get("example_region")
    if ev.example and region:
        out["fig_maps"] = plots.maps(ev.example, region, figs / "maps.png", ev.info.get("example_cell", ""))
    out["fig_ps"] = plots.contact_probability(ev.contact_probability, figs / "contact_probability.png")
    if len(ev.correlation_by_distance):
        out["fig_corr"] = plots.correlation_by_distance(ev.correlation_by_distance,
                                                        figs / "correlation_by_distance.png")
    if len(ev.embeddings):
        out["fig_embedding"] = plots.embeddings(ev.embeddings, figs / "embedding.png")
    if len(ev.compartments):
        out["fig_compartments"] = plots.compartment_tracks(ev.compartments, figs / "compartments.png")
    out["fig_bars"] = plots.headline_bars(ev.summary, figs / "headline.png")
    if embedding is not None:
        out["embedding_scores"] = str(folder / "embedding_scores.tsv")
        embedding[0].to_csv(out["embedding_scores"], sep="\t", index=False, float_format="%.6g")
        out["fig_cell_embedding"] = plots.embeddings(embedding[1], figs / "cell_embedding.png")
    calibrated = getattr(ev, "calibration", None)
    if calibrated is not None:
        from hicdiff import calibration

        cal, _ = calibrated
        for name, df in (("pit", cal.pit), ("reliability", cal.reliability), ("ranks", cal.ranks)):
            out[f"calibration_{name}"] = str(folder / f"calibration_{name}.tsv")
            df.to_csv(out[f"calibration_{name}"], sep="\t", index=False, float_format="%.6g")
        out["fig_calibration"] = calibration.plot(cal, figs / "calibration.png")
    out["report"] = str(folder / "report.md")
    with open(out["report"], "w") as fh:
        fh.write(_markdown(ev, {k: os.path.relpath(v, folder) for k, v in out.items()},
                           None if embedding is None else embedding[0]))
        if calibrated is not None:
            fh.write("\n" + calibration.markdown(calibrated[0], calibrated[1],
                                                   os.path.relpath(out["fig_calibration"], folder)))
    return out


def _markdown(ev, rel, embedding_table=None) -> str:
    info = ev.info
    lines = ["# hicdiff evaluation", ""]
    lines += [f"- cells: {info['cells']} at {info['resolution']:,} bp; band 1 <= d <= {info['max_diagonal']} "
              f"bins ({info['max_distance']:,} bp)",
              f"- held-out contacts: {info['heldout']}",
              "- methods: " + ", ".join(f"`{m}` ({p})" for m, p in info["inputs"].items())]
    if info.get("reference"):
        lines.append(f"- reference: {info['reference']}; compared at {info['reference_resolution']:,} bp on "
                     f"{len(info['reference_chromosomes'])} chromosomes; compartments at "
                     f"{info['compartment_resolution']:,} bp")
        if not info.get("insulation_window_bins"):
            lines.append("- insulation and boundaries: not computed (resolution coarser than "
                         f"{info['params']['insulation_max_resolution']:,} bp)")
    else:
        lines.append("- reference: none (only held-out and separation metrics)")
    if info.get("labels"):
        lines.append(f"- labels: `{info['labels']}`")
    lines += ["", "## Headline metrics", "", _markdown_table(ev.summary), ""]
    lines += [f"- `{c}`: {DESCRIPTIONS[c]}" for c in ev.summary.columns if c in DESCRIPTIONS]
    lines += ["", "Definitions and pinned parameters: docs/evaluation.md; parameters of this run in metrics.json.", ""]
    if "fig_bars" in rel:
        lines += [f"![headline metrics]({rel['fig_bars']})", ""]
    if "fig_maps" in rel:
        chrom, start, end = info["example_region"]
        lines += ["## Maps", "", f"Cell `{info['example_cell']}`, {chrom}:{start:,}-{end:,}: held-out contacts, "
                  "each method, and the reference (each on its own log colour scale).", "",
                  f"![maps]({rel['fig_maps']})", ""]
    lines += ["## Contact probability", "", "Mean over cells of P(s) within the band; `heldout` is the cells' "
              "held-out contacts.", "", f"![P(s)]({rel['fig_ps']})", ""]
    if "fig_corr" in rel:
        lines += ["## Correlation with the reference by distance", "",
                  "Pearson r per distance stratum after smoothing (the SCC's strata), mean over cells.", "",
                  f"![correlation by distance]({rel['fig_corr']})", ""]
    if len(ev.pooled):
        lines += ["## Pooled cells per reference group", "", _markdown_table(ev.pooled), ""]
    if "fig_compartments" in rel:
        lines += ["## Compartments", "", f"E1 of {info['compartment_chromosome']} at "
                  f"{info['compartment_resolution']:,} bp from the whole chromosome as written (cooltools' "
                  f"eigenvector after balancing): pooled cells of group `{info['compartment_pooled_group']}` "
                  f"and cell `{info['example_cell']}` for each method, and their references.", "",
                  f"![compartments]({rel['fig_compartments']})", ""]
    if "fig_embedding" in rel:
        lines += ["## Cell-type separation", "", "First two principal components of each method's band features, "
                  "coloured by label.", "", f"![embedding]({rel['fig_embedding']})", ""]
    if embedding_table is not None:
        lines += ["## Cell embedding (hicdiff embed)", "",
                  "`X_hicdiff`: the model's embedding of the cells; `X_pca`: PCA of their imputed maps. ARI of "
                  "k-means (k = number of labels) and leave-one-out 5-NN accuracy with the labels; "
                  "`cluster_ari`: the clusters the workflow pools (obs `hicdiff_cluster`) against the labels. "
                  "First two principal components, coloured by label. docs/embedding.md.", "",
                  _markdown_table(embedding_table), "", f"![cell embedding]({rel['fig_cell_embedding']})", ""]
    lines += ["## Files", ""] + [f"- `{v}`" for k, v in rel.items() if not k.startswith("fig_")] + [""]
    return "\n".join(lines)
