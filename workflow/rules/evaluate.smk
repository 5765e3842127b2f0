rule evaluate:
    """hicdiff and the baselines scored on the held-out contacts (and against references): the report."""
    input:
        imputed=f"{OUT}/eval/hicdiff.scool",
        baselines=expand(f"{OUT}/eval/{{method}}.scool", method=NEIGHBOUR_METHODS + PRETRAINED_METHODS
                         + config["baselines"]),
        heldout=f"{OUT}/eval/heldout.scool",
        raw=[f"{OUT}/cells.scool"] if config["evaluate"]["reference_cells"] else [],
        reference=[data_path(config["evaluate"]["reference"])] if config["evaluate"]["reference"] else [],
        by_label=(
            [data_path(config["evaluate"]["reference_by_label"])] if config["evaluate"]["reference_by_label"] else []
        ),
        labels=[data_path(config["dataset"]["labels"])] if config["dataset"]["labels"] else [],
        embedding=[f"{OUT}/embedding/cells.h5ad"] if config["embed"]["enabled"] else [],
        model=[f"{OUT}/model.ckpt"] if config["evaluate"]["calibration_cells"] else [],
        cells_in=[f"{OUT}/eval/input.scool"] if config["evaluate"]["calibration_cells"] else [],
    output:
        report=f"{OUT}/report/report.md",
        metrics=f"{OUT}/report/metrics.tsv",
        json=f"{OUT}/report/metrics.json",
    log:
        f"{LOGS}/evaluate.log",
    benchmark:
        f"{BENCH}/evaluate.tsv"
    params:
        folder=lambda w, output: os.path.dirname(output.report),
        reference=lambda w, input: optional("--reference", input.reference[0] if input.reference else None),
        by_label=lambda w, input: optional("--reference-by-label", input.by_label[0] if input.by_label else None),
        raw=lambda w, input: (optional("--reference-cells", input.raw[0] if input.raw else None)
                              + (" --reference-folds" if NEIGHBOUR_METHODS else "")),
        labels=lambda w, input: optional("--labels", input.labels[0] if input.labels else None),
        embedding=lambda w, input: optional("--embedding", input.embedding[0] if input.embedding else None),
        calibration=lambda w, input: (f"--model {shlex.quote(input.model[0])} --input {shlex.quote(input.cells_in[0])} "
                                      f"--calibration-cells {config['evaluate']['calibration_cells']}"
                                      if input.model else ""),
    shell:
        "hicdiff evaluate {input.imputed:q} {input.baselines:q} --heldout {input.heldout:q} {params.reference} "
        "{params.raw} {params.by_label} {params.labels} {params.embedding} {params.calibration} -o {params.folder:q} "
        "> {log:q} 2>&1"
