"""``hicdiff evaluate``: score imputed cells on held-out contacts and against a reference; write a report."""

import click

#: -o names a report folder (hicdiff.safety checks it and locks it before the evaluation starts)
OUTPUTS = {"output": "folder"}


@click.command("evaluate")
@click.argument("imputed", nargs=-1, required=True)
@click.option("--heldout", required=True, help="Held-out part from `hicdiff split` (.scool).")
@click.option("--reference", default=None,
              help="Bulk Hi-C .cool or .mcool[::resolutions/N] to compare every cell with.")
@click.option("--reference-by-label", default=None,
              help="A bulk reference per label: a folder of <label>.cool/.mcool or a TSV 'label<TAB>path'.")
@click.option("--reference-cells", default=None,
              help="Raw (unsplit) cells .scool: each cell is compared with the pooled OTHER cells of its label "
                   "(leave-one-out pseudo-bulk); pooled cells are compared across two folds.")
@click.option("--reference-folds", is_flag=True,
              help="With --reference-cells: compare single cells too with the other fold's raw cells of their "
                   "label (cells sharing contacts with no cell of their own fold: the honest reference for "
                   "imputations that borrow from other cells, run on each fold alone).")
@click.option("--balance-reference", is_flag=True,
              help="Use the bulk reference's balancing weights (default: raw counts, NaN-weight bins masked).")
@click.option("--labels", "labels_path", type=click.Path(), default=None,
              help="TSV of cell labels (default: the labels stored with the held-out cells).")
@click.option("--label-column", default="cell_type", show_default=True, help="Label column.")
@click.option("--max-distance", type=click.IntRange(min=1), default=10_000_000, show_default=True,
              help="Band of the metrics: pixels up to this distance in bp.")
@click.option("--scc-h", type=click.IntRange(min=0), default=1, show_default=True,
              help="SCC smoothing half-width in bins.")
@click.option("--compartment-resolution", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Resolution (bp) of the compartment eigenvectors (whole-chromosome maps).")
@click.option("--insulation-window", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Insulation diamond size in bp (used at 200 kb resolution or finer).")
@click.option("--cells", "cell_names", default=None,
              help="Only these cells: comma-separated names or a file with one name per line.")
@click.option("--example-cell", default=None, help="Cell of the map figure (default: median held-out depth).")
@click.option("--region", default=None, help="Region of the map figure, chrom:start-end.")
@click.option("--embedding", type=click.Path(), default=None, metavar="CELLS.h5ad",
              help="An embedding from hicdiff embed: the report adds its separation, clusters and scatter.")
@click.option("-o", "--output", required=True, help="Report folder (metrics.tsv, metrics.json, report.md, figures/).")
@click.option("--model", "model", default=None, metavar="MODEL.ckpt",
              help="The model of a hicdiff imputation (a checkpoint, or general): adds the calibration of its "
                   "predictive distribution on the held-out contacts (PIT, reliability, coverage of draws; needs "
                   "--input).")
@click.option("--input", "model_input", default=None, metavar="INPUT.scool",
              help="The cells the model imputed from (the input part of hicdiff split).")
@click.option("--calibration-cells", type=click.IntRange(min=1), default=20, show_default=True,
              help="Cells the calibration uses (the first ones).")
@click.option("--calibration-samples", type=click.IntRange(min=2), default=8, show_default=True,
              help="Sample-mode draws per cell for the coverage.")
def command(imputed, heldout, reference, reference_by_label, reference_cells, reference_folds, balance_reference,
            labels_path,
            label_column, max_distance, scc_h, compartment_resolution, insulation_window, cell_names, example_cell,
            region, embedding, output, model, model_input, calibration_cells, calibration_samples):
    """Evaluate IMPUTED .scool files (hicdiff impute or hicdiff baseline output) on the same cells.

    Writes one row per method (name from the file's metadata, else its file name) to metrics.tsv and
    metrics.json, per-cell tables, figures and report.md into the output folder. Metric definitions:
    docs/evaluation.md.
    """
    import pandas as pd

    from hicdiff.evaluate import EvalParams, run_evaluation
    from hicdiff.io import read_cell_names

    if reference_folds and reference_cells is None:
        raise click.UsageError("--reference-folds goes with --reference-cells")
    params = EvalParams(max_distance=max_distance, scc_h=scc_h, compartment_resolution=compartment_resolution,
                        insulation_window=insulation_window, balance_reference=balance_reference)
    ev = run_evaluation(imputed, heldout, output, reference=reference, reference_by_label=reference_by_label,
                        reference_cells=reference_cells, labels=labels_path, label_column=label_column,
                        params=params, names=read_cell_names(cell_names), example_cell=example_cell,
                        example_region=region, embedding=embedding, model=model, model_input=model_input,
                        calibration_cells=calibration_cells, calibration_samples=calibration_samples,
                        reference_folds=reference_folds)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        click.echo(ev.summary.round(4).to_string(index=False))
    click.echo(f"report: {output}/report.md")
