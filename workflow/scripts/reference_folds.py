"""The two folds of ``hicdiff evaluate --reference-folds``: one file of cell names per fold.

Run by the ``reference_folds`` rule (``snakemake`` is the object Snakemake gives a rule's script). Folds are
those the evaluation makes (``PooledCellsReference.fold``, :func:`hicdiff.references.label_folds`: alternate
cells of each label of the raw cells, in name order), so that guidance by neighbours run on each fold alone
(``hicdiff impute --cells FOLD --neighbours-among cells``) borrows nothing from the cells its fold is compared
with.
"""

import hicdiff
from hicdiff._cellmaps import cell_labels
from hicdiff.references import PooledCellsReference

raw = hicdiff.open_cells(snakemake.input.raw)  # noqa: F821
labels_path = snakemake.input.labels[0] if snakemake.input.labels else None  # noqa: F821
# the reference hicdiff evaluate --reference-cells builds from the same raw cells and labels: its folds
fold = PooledCellsReference(raw, cell_labels(raw, "cell_type", labels_path, required=False), raw).fold
evaluated = set(hicdiff.open_cells(snakemake.input.cells).names)  # noqa: F821
for k, path in enumerate(snakemake.output):  # noqa: F821
    names = [n for n in raw.names if fold.get(n) == k and n in evaluated]
    if not names:
        raise SystemExit(f"fold {k + 1} of the reference cells holds none of the imputed cells")
    with open(path, "w") as fh:
        fh.writelines(f"{name}\n" for name in names)
with open(snakemake.log[0], "w") as fh:  # noqa: F821
    fh.write(" ".join(f"fold {k + 1}: {sum(1 for n in fold.values() if n == k)} cells" for k in (0, 1)) + "\n")
