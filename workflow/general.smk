"""The general model's recipe: load the public training sets, keep the unseen-data checks out, train one
portable model over all of them (hicdiff train A.scool B.scool ... --config configs/general.yaml).

    snakemake -s workflow/general.smk --configfile configs/general_model.yaml --cores 2

The checkpoint is results/general/general.ckpt; copying it to hicdiff/models/general.ckpt ships it.
"""

from pathlib import Path

import pandas as pd

REPO = Path(workflow.basedir).parent
DATA = Path(config["data_dir"])
if not DATA.is_absolute():
    DATA = (REPO / DATA).resolve()
OUT = config["results_dir"]
LEE = config["lee2019"]


def lee_cells(kept_out: bool) -> list[str]:
    """The lee2019 contact files of the training cells, or of the kept-out ones (the last
    ``kept_out_per_type`` cells of each type in the cell table)."""
    table = pd.read_csv(DATA / LEE["table"], sep="\t")
    kept = set(table.groupby("cell_type", sort=True).tail(LEE["kept_out_per_type"])["name"])
    names = [n for n in table["name"] if (n in kept) == kept_out]
    return [str(DATA / LEE["cells"] / f"{n}.gz") for n in names]


TRAINING_SETS = ([f"{OUT}/lee2019_train_{LEE['resolution']}.scool"]
                 + [f"{OUT}/gageseq_{r}.scool" for r in config["gageseq"]["resolutions"]]
                 + [str(DATA / s) for s in config["scool"]])


rule general_model:
    input:
        f"{OUT}/general.ckpt",
        f"{OUT}/lee2019_kept_{LEE['resolution']}.scool",
    default_target: True


rule lee2019:
    """The lee2019 cells at the recipe's resolution: the training cells, or the 60 kept out of training."""
    input:
        cells=lambda w: lee_cells(w.part == "kept"),
        chromsizes=DATA / LEE["chromsizes"],
        table=DATA / LEE["table"],
    output:
        f"{OUT}/lee2019_{{part}}_{{res}}.scool",
    wildcard_constraints:
        part="train|kept",
    log:
        f"{OUT}/logs/lee2019_{{part}}_{{res}}.log",
    shell:
        "rm -f {output:q}.partial; hicdiff load {input.cells:q} --format contacts --resolution {wildcards.res} "
        "--chromsizes {input.chromsizes:q} --labels {input.table:q} -o {output:q} > {log:q} 2>&1"


rule gageseq:
    """GAGE-seq mouse cortex cells (chr1, mm10) binned at one resolution."""
    input:
        cells=DATA / config["gageseq"]["cells"],
        chromsizes=DATA / config["gageseq"]["chromsizes"],
    output:
        f"{OUT}/gageseq_{{res}}.scool",
    log:
        f"{OUT}/logs/gageseq_{{res}}.log",
    shell:
        "rm -f {output:q}.partial; hicdiff load {input.cells:q} --resolution {wildcards.res} "
        "--chromsizes {input.chromsizes:q} --chromosomes chr1 -o {output:q} > {log:q} 2>&1"


rule train_general:
    """One portable model over every training set."""
    input:
        sets=TRAINING_SETS,
        config=REPO / config["train_config"],
    output:
        f"{OUT}/general.ckpt",
    log:
        f"{OUT}/logs/train_general.log",
    threads: config["threads"]
    params:
        minutes=config["minutes"],
        seed=config["seed"],
    shell:
        "OMP_WAIT_POLICY=PASSIVE hicdiff train {input.sets:q} --config {input.config:q} --max-time {params.minutes} "
        "--seed {params.seed} --threads {threads} -o {output:q} > {log:q} 2>&1"
