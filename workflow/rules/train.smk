rule train:
    """A model trained (self-supervised) on the input parts of the cells, so that held-out contacts stay unseen."""
    input:
        f"{OUT}/eval/input.scool",
    output:
        f"{OUT}/model.ckpt",
    log:
        f"{LOGS}/train.log",
    benchmark:
        f"{BENCH}/train.tsv"
    threads: config["train"]["threads"]
    params:
        config=config["train"]["config"],
        max_time=optional("--max-time", config["train"]["max_time"]),
        max_steps=optional("--max-steps", config["train"]["max_steps"]),
        max_distance=optional("--max-distance", config["train"]["max_distance"]),
        seed=config["train"]["seed"],
        device=config["train"]["device"],
        devices=config["train"]["devices"],
        strategy=config["train"]["strategy"],
        prior=(f"--prior-by neighbours --prior-neighbours {config['neighbours']['train_k']}"
               if config["neighbours"]["enabled"] else ""),
    shell:
        "hicdiff train {input:q} -o {output:q} --config {params.config:q} {params.max_time} {params.max_steps} "
        "{params.max_distance} {params.prior} --seed {params.seed} --device {params.device} --devices {params.devices} "
        "--strategy {params.strategy:q} --threads {threads} > {log:q} 2>&1"
