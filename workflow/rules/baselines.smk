rule baseline:
    """A baseline imputed from the same input parts as hicdiff, for the evaluation."""
    input:
        f"{OUT}/eval/input.scool",
    output:
        f"{OUT}/eval/{{method}}.scool",
    log:
        f"{LOGS}/baseline/{{method}}.log",
    benchmark:
        f"{BENCH}/baseline/{{method}}.tsv"
    params:
        max_distance=baseline_max_distance(),
    shell:
        "rm -f {output:q}.partial; "
        "hicdiff baseline {input:q} --method {wildcards.method} --max-distance {params.max_distance} "
        "-o {output:q} > {log:q} 2>&1"
