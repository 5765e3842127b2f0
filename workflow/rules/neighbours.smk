# Guidance by neighbours (config neighbours.enabled; docs/whole_chromosomes.md): each cell imputed with the pool
# of its nearest cells as the prior, each reference fold alone, so that hicdiff evaluate --reference-folds
# compares every cell and pool with raw cells its imputation borrowed nothing from.


rule reference_folds:
    """The evaluation's two reference folds of the evaluated cells, one list of names each."""
    input:
        raw=f"{OUT}/cells.scool",
        cells=f"{OUT}/eval/input.scool",
        labels=[data_path(config["dataset"]["labels"])] if config["dataset"]["labels"] else [],
    output:
        expand(f"{OUT}/neighbours/fold{{k}}.txt", k=(1, 2)),
    log:
        f"{LOGS}/reference_folds.log",
    script:
        "../scripts/reference_folds.py"


rule impute_neighbours_fold:
    """One fold's input parts imputed by the trained model, each cell guided by its neighbours in the fold."""
    input:
        cells=f"{OUT}/eval/input.scool",
        names=f"{OUT}/neighbours/fold{{k}}.txt",
        model=f"{OUT}/model.ckpt",
    output:
        f"{OUT}/neighbours/hicdiff-neighbours-fold{{k}}.scool",
    log:
        f"{LOGS}/impute/hicdiff-neighbours-fold{{k}}.log",
    benchmark:
        f"{BENCH}/impute/hicdiff-neighbours-fold{{k}}.tsv"
    threads: config["train"]["threads"]
    params:
        k=config["neighbours"]["k"],
        guidance=config["neighbours"]["guidance"],
        far=optional("--guidance-far", config["neighbours"]["guidance_far"]),
        far_from=optional("--far-from", config["neighbours"]["far_from"]),
        observed="--add-observed" if config["neighbours"]["add_observed"] else "",
        device=config["impute"]["device"],
    shell:
        "rm -f {output:q}.partial; "
        "hicdiff impute {input.cells:q} --model {input.model:q} --cells {input.names:q} -o {output:q} "
        "--guide-neighbours {params.k} --neighbours-among cells --guidance {params.guidance} {params.far} "
        "{params.far_from} {params.observed} --device {params.device} --threads {threads} > {log:q} 2>&1"


rule merge_neighbours:
    """The two folds' guided imputations in one .scool: method hicdiff-neighbours of the report."""
    input:
        expand(f"{OUT}/neighbours/hicdiff-neighbours-fold{{k}}.scool", k=(1, 2)),
    output:
        f"{OUT}/eval/hicdiff-neighbours.scool",
    log:
        f"{LOGS}/merge_neighbours.log",
    shell:
        "rm -f {output:q}.partial; hicdiff merge {input:q} -o {output:q} > {log:q} 2>&1"
