"""The Snakemake workflow: the full DAG in dry runs, the SLURM profile, and a real run of configs/test.yaml.

Snakemake runs as a subprocess in a temporary working directory, so results, locks and caches stay out of the
repository; the data come from ../shared/data as in every config.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
CONFIGS = REPO / "configs"


def snakemake(workdir: Path, *args, check=True) -> str:
    """Run snakemake in ``workdir``; its combined output."""
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(workdir / ".cache"),
        "MPLBACKEND": "Agg",
        # the rules call `hicdiff` from the environment the tests run in
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir), *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    out = res.stdout + res.stderr
    if check and res.returncode != 0:
        logs = "".join(f"\n--- {p}\n{p.read_text()[-3000:]}" for p in sorted(workdir.glob("results/*/logs/**/*.log")))
        pytest.fail(f"snakemake failed ({res.returncode}):\n{out[-6000:]}{logs}")
    return out


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a snakemake run or dry run (empty when there is nothing to do)."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    counts.pop("total", None)
    return counts


def test_dry_run_of_the_default_config_plans_every_step(tmp_path, data_dir):
    out = snakemake(tmp_path, "--configfile", CONFIGS / "config.yaml", "--cores", 2, "--dry-run", "--printshellcmds")
    config = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    shards = config["impute"]["shards"]
    assert job_counts(out) == {
        "load": 1, "split": 1, "train": 1, "shard_cells": 2, "impute_shard": 2 * shards, "merge_imputed": 1,
        "merge_imputed_eval": 1, "baseline": len(config["baselines"]), "evaluate": 1, "all": 1,
        "finetune": 1, "impute_pretrained": 2, "embed": 1, "pool_clusters": 1,
        "reference_folds": 1, "impute_neighbours_fold": 2, "merge_neighbours": 1,
    }
    # guidance by neighbours: a prior channel trained, each reference fold imputed alone, the report on folds
    assert re.search(r"hicdiff train .* --prior-by neighbours --prior-neighbours 5 --seed", out)
    nb = config["neighbours"]
    for k in (1, 2):
        assert re.search(rf"hicdiff impute \S+ --model \S+model.ckpt --cells \S+fold{k}.txt -o \S+fold{k}.scool "
                         rf"--guide-neighbours {nb['k']} --neighbours-among cells --guidance 1 "
                         rf"--guidance-far {nb['guidance_far']} --far-from {nb['far_from']} --add-observed", out)
    assert re.search(r"hicdiff evaluate .*hicdiff-neighbours.scool .*--reference-folds", out)
    # the general model zero-shot and fine-tuned, beside the one trained from scratch
    assert re.search(r"hicdiff train \S+ -o \S+model-finetuned.ckpt --init general --max-time 2", out)
    assert re.search(r"hicdiff impute \S+ --model general -o \S+hicdiff-general.scool", out)
    # torch gets the threads snakemake gives the job
    assert re.search(r"hicdiff train .* --threads 2\b", out)
    assert f"results/{config['run']}/report/report.md" in out
    loaded = re.search(r"hicdiff load (.*?) --format", out).group(1).split()
    only = [n for n in (REPO / config["dataset"]["only"]).read_text().splitlines() if n and n[0] != "#"]
    assert len(loaded) == len(only) == 60


def test_no_configfile_means_the_default_config(tmp_path, data_dir):
    out = snakemake(tmp_path, "--cores", 1, "--dry-run")
    run = yaml.safe_load((CONFIGS / "config.yaml").read_text())["run"]
    assert f"results/{run}/report/report.md" in out


@pytest.mark.parametrize("name", ["lee2019", "nagano2017", "test"])
def test_dataset_configs_build_their_dag(tmp_path, data_dir, name):
    out = snakemake(tmp_path, "--configfile", CONFIGS / f"{name}.yaml", "--cores", 1, "--dry-run")
    assert job_counts(out)["evaluate"] == 1


def test_config_is_validated_against_the_schema(tmp_path, data_dir):
    config = yaml.safe_load((CONFIGS / "test.yaml").read_text())
    config["impute"]["mode"] = "median"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(tmp_path, "--configfile", tmp_path / "bad.yaml", "--cores", 1, "--dry-run", check=False)
    assert "median" in out and "is not one of" in out


def test_slurm_profile_dry_run(tmp_path, data_dir):
    # the profile's resources with snakemake's local executor: no plugin and no cluster needed
    out = snakemake(tmp_path, "--configfile", CONFIGS / "config.yaml", "--profile", REPO / "workflow/profiles/slurm",
                    "--executor", "local", "--cores", 8, "--dry-run")
    train = out.split("rule train:", 1)[1].split("\n\n", 1)[0]
    assert "slurm_partition=gpu" in train and "gres=gpu:1" in train
    assert re.search(r"hicdiff train .* --devices 1 --strategy auto --threads 8\b", out)


# -- a real run ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir):
    workdir = tmp_path_factory.mktemp("workflow")
    out = snakemake(workdir, "--configfile", CONFIGS / "test.yaml", "--cores", 2)
    return workdir, workdir / "results" / "test", out


def test_real_run_writes_the_report_and_the_imputed_cells(finished_run):
    import hicdiff

    workdir, run, out = finished_run
    assert (run / "report" / "report.md").stat().st_size > 0
    assert (run / "report" / "metrics.tsv").exists()
    cells = hicdiff.open_cells(run / "cells.scool")
    config = yaml.safe_load((CONFIGS / "test.yaml").read_text())
    assert len(cells) == config["dataset"]["max_cells"]
    assert cells.chromnames == config["dataset"]["chromosomes"]
    # shards merged back into one file per set of cells, in the original order
    assert hicdiff.open_cells(run / "imputed.scool").names == cells.names
    assert hicdiff.open_cells(run / "eval" / "hicdiff.scool").names == cells.names
    for rule in ("load", "split", "train", "evaluate"):
        assert (run / "logs" / f"{rule}.log").exists()
    # the embedding of every cell, its clusters pooled for HiGlass, both in the report
    import anndata

    assert list(anndata.read_h5ad(run / "embedding" / "cells.h5ad").obs_names) == cells.names
    assert list((run / "pooled" / "clusters").glob("*.mcool"))
    assert "## Cell embedding" in (run / "report" / "report.md").read_text()
    # guidance by neighbours: each reference fold alone, every evaluated cell once, neighbours inside its fold
    folds = [(run / "neighbours" / f"fold{k}.txt").read_text().split() for k in (1, 2)]
    assert sorted(folds[0] + folds[1]) == sorted(cells.names) and not set(folds[0]) & set(folds[1])
    guided = hicdiff.open_cells(run / "eval" / "hicdiff-neighbours.scool")
    assert sorted(guided.names) == sorted(cells.names)
    for fold in folds:
        for n in fold:
            assert set(guided.cell_metadata(n)["neighbours"]) <= set(fold) - {n}
    assert "hicdiff-neighbours" in (run / "report" / "metrics.tsv").read_text()


def test_rerun_after_completion_does_nothing(finished_run):
    workdir, _, _ = finished_run
    out = snakemake(workdir, "--configfile", CONFIGS / "test.yaml", "--cores", 2, "--dry-run")
    assert job_counts(out) == {}
    assert "Nothing to be done" in out


def test_deleting_one_shard_reruns_only_what_depends_on_it(finished_run):
    workdir, run, _ = finished_run
    (run / "shards" / "input" / "imputed-001.scool").unlink()
    expected = {"impute_shard": 1, "merge_imputed_eval": 1, "evaluate": 1, "all": 1}
    out = snakemake(workdir, "--configfile", CONFIGS / "test.yaml", "--cores", 2, "--dry-run")
    assert job_counts(out) == expected
    assert job_counts(snakemake(workdir, "--configfile", CONFIGS / "test.yaml", "--cores", 2)) == expected
    assert (run / "shards" / "input" / "imputed-001.scool").exists()
