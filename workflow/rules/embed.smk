rule embed:
    """Cell embedding (AnnData for scanpy) of all cells with the trained model, and k-means clusters of it."""
    input:
        cells=f"{OUT}/cells.scool",
        model=f"{OUT}/model.ckpt",
    output:
        h5ad=f"{OUT}/embedding/cells.h5ad",
        clusters=f"{OUT}/embedding/clusters.tsv",
    log:
        f"{LOGS}/embed.log",
    benchmark:
        f"{BENCH}/embed.tsv"
    threads: config["embed"]["threads"]
    params:
        clusters=config["embed"]["clusters"],
        device=config["embed"]["device"],
    shell:
        "hicdiff embed {input.cells:q} --model {input.model:q} -o {output.h5ad:q} --clusters {params.clusters} "
        "--clusters-tsv {output.clusters:q} --device {params.device} --threads {threads} > {log:q} 2>&1"


rule pool_clusters:
    """Pseudo-bulk of each cluster's raw cells: <cluster>.mcool, multi-resolution and balanced, for HiGlass."""
    input:
        cells=f"{OUT}/cells.scool",
        clusters=f"{OUT}/embedding/clusters.tsv",
    output:
        directory(f"{OUT}/pooled/clusters"),
    log:
        f"{LOGS}/pool_clusters.log",
    benchmark:
        f"{BENCH}/pool_clusters.tsv"
    shell:
        "hicdiff pool {input.cells:q} --by {input.clusters:q} -o {output:q} > {log:q} 2>&1"
