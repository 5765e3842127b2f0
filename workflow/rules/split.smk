rule split:
    """Binomial thinning of each cell: an input part to impute from and a held-out part to score against."""
    input:
        f"{OUT}/cells.scool",
    output:
        input=f"{OUT}/eval/input.scool",
        heldout=f"{OUT}/eval/heldout.scool",
    log:
        f"{LOGS}/split.log",
    benchmark:
        f"{BENCH}/split.tsv"
    params:
        fraction=config["split"]["heldout_fraction"],
        seed=config["split"]["seed"],
    shell:
        "rm -f {output.input:q}.partial {output.heldout:q}.partial; "
        "hicdiff split {input:q} --heldout-fraction {params.fraction} --seed {params.seed} "
        "-o {output.input:q} {output.heldout:q} > {log:q} 2>&1"
