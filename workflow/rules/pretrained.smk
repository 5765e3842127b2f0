rule finetune:
    """The pretrained model fine-tuned on the input parts of the cells (hicdiff train --init)."""
    input:
        f"{OUT}/eval/input.scool",
    output:
        f"{OUT}/model-finetuned.ckpt",
    log:
        f"{LOGS}/finetune.log",
    benchmark:
        f"{BENCH}/finetune.tsv"
    threads: config["train"]["threads"]
    params:
        model=PRETRAINED,
        minutes=config["pretrained"]["finetune_minutes"],
        seed=config["train"]["seed"],
        device=config["train"]["device"],
    shell:
        "hicdiff train {input:q} -o {output:q} --init {params.model:q} --max-time {params.minutes} "
        "--seed {params.seed} --device {params.device} --threads {threads} > {log:q} 2>&1"


rule impute_pretrained:
    """The input parts imputed by the pretrained model as it is (zero-shot) or fine-tuned."""
    input:
        cells=f"{OUT}/eval/input.scool",
        model=lambda w: [f"{OUT}/model-finetuned.ckpt"] if w.variant == "finetuned" else [],
    output:
        f"{OUT}/eval/hicdiff-{{variant}}.scool",
    wildcard_constraints:
        variant="general|finetuned",
    log:
        f"{LOGS}/impute/hicdiff-{{variant}}.log",
    benchmark:
        f"{BENCH}/impute/hicdiff-{{variant}}.tsv"
    threads: config["train"]["threads"]
    params:
        model=lambda w, input: input.model[0] if input.model else PRETRAINED,
        device=config["impute"]["device"],
    shell:
        "rm -f {output:q}.partial; "
        "hicdiff impute {input.cells:q} --model {params.model:q} -o {output:q} --device {params.device} "
        "--threads {threads} > {log:q} 2>&1"
