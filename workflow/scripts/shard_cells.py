"""Cut the cells of a .scool into equal consecutive shards: one file of cell names per shard.

Run by the ``shard_cells`` rule (``snakemake`` is the object Snakemake gives a rule's script); each list then
goes to ``hicdiff impute --cells``.
"""

import numpy as np

import hicdiff

cells_path = snakemake.input[0]  # noqa: F821
shards = list(snakemake.output)  # noqa: F821
names = hicdiff.open_cells(cells_path).names
if len(names) < len(shards):
    raise SystemExit(f"{cells_path} has {len(names)} cells, fewer than impute.shards = {len(shards)}")
for path, part in zip(shards, np.array_split(np.asarray(names, dtype=object), len(shards))):
    with open(path, "w") as fh:
        fh.writelines(f"{name}\n" for name in part)
with open(snakemake.log[0], "w") as fh:  # noqa: F821
    fh.write(f"{len(names)} cells in {len(shards)} shards\n")
