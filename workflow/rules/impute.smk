rule shard_cells:
    """The cell names of one set of cells, cut into equal consecutive shards (one list file per shard)."""
    input:
        lambda w: IMPUTE_FROM[w.part],
    output:
        expand(f"{OUT}/shards/{{{{part}}}}/cells-{{shard}}.txt", shard=SHARDS),
    log:
        f"{LOGS}/shard_cells/{{part}}.log",
    script:
        "../scripts/shard_cells.py"


rule impute_shard:
    """One shard of cells imputed with the trained model."""
    input:
        cells=lambda w: IMPUTE_FROM[w.part],
        names=f"{OUT}/shards/{{part}}/cells-{{shard}}.txt",
        model=f"{OUT}/model.ckpt",
    output:
        f"{OUT}/shards/{{part}}/imputed-{{shard}}.scool",
    log:
        f"{LOGS}/impute/{{part}}-{{shard}}.log",
    benchmark:
        f"{BENCH}/impute/{{part}}-{{shard}}.tsv"
    threads: config["impute"]["threads"]
    params:
        mode=config["impute"]["mode"],
        depth_ratio=config["impute"]["depth_ratio"],
        samples=config["impute"]["samples"],
        steps=config["impute"]["steps"],
        batch_size=config["impute"]["batch_size"],
        device=config["impute"]["device"],
    shell:
        "rm -f {output:q}.partial; "
        "hicdiff impute {input.cells:q} --model {input.model:q} --cells {input.names:q} -o {output:q} "
        "--mode {params.mode} --depth-ratio {params.depth_ratio} --samples {params.samples} "
        "--steps {params.steps} --batch-size {params.batch_size} --device {params.device} "
        "--threads {threads} > {log:q} 2>&1"


rule merge_imputed:
    """The imputed shards of all contacts joined into one .scool: the run's product."""
    input:
        expand(f"{OUT}/shards/cells/imputed-{{shard}}.scool", shard=SHARDS),
    output:
        f"{OUT}/imputed.scool",
    log:
        f"{LOGS}/merge_imputed.log",
    shell:
        "rm -f {output:q}.partial; hicdiff merge {input:q} -o {output:q} > {log:q} 2>&1"


use rule merge_imputed as merge_imputed_eval with:
    input:
        expand(f"{OUT}/shards/input/imputed-{{shard}}.scool", shard=SHARDS),
    output:
        f"{OUT}/eval/hicdiff.scool",
    log:
        f"{LOGS}/merge_imputed_eval.log",
