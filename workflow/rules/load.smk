rule load:
    """The dataset's contact files -> one .scool of raw cells (labels stored with each cell)."""
    input:
        contacts=dataset_inputs(),
        chromsizes=data_path(config["dataset"]["chromsizes"]),
        labels=[data_path(config["dataset"]["labels"])] if config["dataset"]["labels"] else [],
        chrom_map=[data_path(config["dataset"]["chrom_map"])] if config["dataset"]["chrom_map"] else [],
    output:
        f"{OUT}/cells.scool",
    log:
        f"{LOGS}/load.log",
    benchmark:
        f"{BENCH}/load.tsv"
    params:
        format=config["dataset"]["format"],
        resolution=config["dataset"]["resolution"],
        chromosomes=optional("--chromosomes", ",".join(config["dataset"]["chromosomes"]) or None),
        labels=lambda w, input: optional("--labels", input.labels[0] if input.labels else None),
        chrom_map=lambda w, input: optional("--chrom-map", input.chrom_map[0] if input.chrom_map else None),
        trans="--trans" if config["dataset"]["trans"] else "",
    shell:
        "rm -f {output:q}.partial; "
        "hicdiff load {input.contacts:q} --format {params.format} --resolution {params.resolution} "
        "--chromsizes {input.chromsizes:q} {params.chromosomes} {params.labels} {params.chrom_map} "
        "{params.trans} -o {output:q} > {log:q} 2>&1"


use rule load as load_fine with:
    output:
        f"{OUT}/cells-{config['split']['heldout_unit']}bp.scool",
    log:
        f"{LOGS}/load_fine.log",
    benchmark:
        f"{BENCH}/load_fine.tsv"
    params:
        format=config["dataset"]["format"],
        resolution=config["split"]["heldout_unit"] or config["dataset"]["resolution"],
        chromosomes=optional("--chromosomes", ",".join(config["dataset"]["chromosomes"]) or None),
        labels=lambda w, input: optional("--labels", input.labels[0] if input.labels else None),
        chrom_map=lambda w, input: optional("--chrom-map", input.chrom_map[0] if input.chrom_map else None),
        trans="--trans" if config["dataset"]["trans"] else "",
