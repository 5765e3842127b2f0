"""Cell-type separation of hicdiff's embedding beside PCA of raw, RWR and hicdiff-imputed maps.

For each representation: adjusted Rand index of KMeans (k = number of labels, 10 restarts) with the labels,
and leave-one-out 5-NN label accuracy (:func:`hicdiff.metrics.separation`). ``X_hicdiff`` and ``X_pca`` come
from :func:`hicdiff.embed.embed_cells`; raw and RWR maps are turned into the same band features as the
imputed ones (``log2(1 + O/E)`` of every pixel of the model's band) and reduced by the same PCA (20
components). Prints a table (markdown) and writes it as TSV with --tsv.

    python bench/embed_bench.py MODEL.ckpt CELLS.scool --threads 1 [--label-column cell_type] [--h5ad out.h5ad]
"""

import argparse
import logging
import time

import numpy as np
import pandas as pd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("cells")
    ap.add_argument("--label-column", default="cell_type")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--components", type=int, default=10, help="Dimensions of X_hicdiff.")
    ap.add_argument("--depth", type=float, default=None,
                    help="Band contacts the cells are thinned to for X_hicdiff (default: hicdiff embed's; a huge "
                         "value such as 1e12 thins nothing).")
    ap.add_argument("--h5ad", default=None, help="Also write the embedding here.")
    ap.add_argument("--tsv", default=None, help="Also write the table here.")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("cooler").setLevel(logging.WARNING)

    import torch

    from hicdiff import metrics
    from hicdiff._cellmaps import cell_labels
    from hicdiff.baselines import Baseline
    from hicdiff.embed import embed_cells, write_h5ad
    from hicdiff.io import open_cells

    torch.set_num_threads(args.threads)
    cells = open_cells(args.cells)
    labels = cell_labels(cells, args.label_column).to_numpy()
    k = len(np.unique(labels))

    t0 = time.perf_counter()
    adata = embed_cells(args.cells, args.model, n_components=args.components, depth=args.depth,
                        device=args.device, threads=args.threads)
    t_embed = time.perf_counter() - t0
    if args.h5ad:
        write_h5ad(adata, args.h5ad)
    hd = adata.uns["hicdiff"]
    chroms = list(hd["parameters"]["chromosomes"])
    band_bp = int(hd["parameters"]["max_distance_bp"])

    rows = []

    def add(name, x, seconds, pca=True):
        # X_hicdiff and X_pca are PCA already: keep every component (a rotation, which k-means and kNN ignore)
        comps = 20 if pca else x.shape[1]
        out = metrics.separation(np.asarray(x, np.float64), labels, comps, 5, 0)
        rows.append({"representation": name, "dims": min(comps, x.shape[1]), "ari": out["ari"],
                     "knn5_accuracy": out["knn_accuracy"], "seconds": seconds})

    add("hicdiff embedding (X_hicdiff)", adata.obsm["X_hicdiff"], t_embed, pca=False)
    add("PCA of hicdiff-imputed maps (X_pca)", adata.obsm["X_pca"], t_embed, pca=False)
    for method, name in (("raw", "PCA of raw maps"), ("rwr", "PCA of RWR maps")):
        t0 = time.perf_counter()
        base = Baseline(cells, method, max_distance=band_bp)
        feats = [metrics.band_features({c: b for c, (b, _) in base.impute(n).items() if c in chroms})
                 for n in cells.names]
        add(name, np.vstack(feats), time.perf_counter() - t0)

    table = pd.DataFrame(rows)
    print(f"\n{len(cells)} cells, {k} labels ({args.label_column}), {cells.resolution:,} bp, band {band_bp:,} bp; "
          f"model {args.model} (step {hd['model_step']}); X_hicdiff: states thinned to "
          f"{hd['parameters']['depth']:.0f} band contacts\n")
    print("| representation | dims | KMeans ARI | 5-NN accuracy | seconds |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['representation']} | {r['dims']} | {r['ari']:.3f} | {r['knn5_accuracy']:.3f} | "
              f"{r['seconds']:.0f} |")
    if args.tsv:
        table.to_csv(args.tsv, sep="\t", index=False)


if __name__ == "__main__":
    main()
