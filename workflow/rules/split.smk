rule split:
    """Binomial thinning of each cell (or whole fine pixels held out, split.heldout_unit): an input part to
    impute from and a held-out part to score against."""
    input:
        SPLIT_FROM,
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
        unit=optional("--heldout-unit", config["split"]["heldout_unit"]),
        resolution=optional("--resolution", config["dataset"]["resolution"] if config["split"]["heldout_unit"] else None),
    shell:
        "rm -f {output.input:q}.partial {output.heldout:q}.partial; "
        "hicdiff split {input:q} --heldout-fraction {params.fraction} --seed {params.seed} {params.unit} "
        "{params.resolution} "
        "-o {output.input:q} {output.heldout:q} > {log:q} 2>&1"
