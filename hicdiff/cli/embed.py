"""``hicdiff embed``: cell embeddings from a trained model, as an AnnData ``.h5ad`` for scanpy."""

import click

from hicdiff.cli import _options

#: hicdiff.safety checks and locks both files before the embedding starts
OUTPUTS = {"output": "file", "clusters_tsv": "file"}


@click.command("embed")
@click.argument("inputs", nargs=-1, required=True, metavar="CELLS.scool|CELL.cool...")
@click.option("--model", "model", required=True, type=click.Path(), help="Model checkpoint from hicdiff train.")
@click.option("-o", "--output", required=True, type=click.Path(), metavar="CELLS.h5ad", help="AnnData file to write.")
@click.option("--components", "n_components", type=click.IntRange(min=1), default=10, show_default=True,
              help="Dimensions of obsm['X_hicdiff'].")
@click.option("--pca-components", type=click.IntRange(min=1), default=20, show_default=True,
              help="Dimensions of obsm['X_pca'] (PCA of the imputed band features).")
@click.option("--depth", type=click.FloatRange(min=1), default=None, metavar="CONTACTS",
              help="Band contacts each cell is thinned to before its states are read "
                   "(default: the 10th percentile over the cells).")
@click.option("--clusters", type=click.IntRange(min=2), default=None, metavar="K",
              help="Also k-means X_hicdiff into K clusters: obs['hicdiff_cluster'].")
@click.option("--clusters-tsv", type=click.Path(), default=None,
              help="Write 'cell<TAB>cluster' here (for hicdiff pool --by); needs --clusters.")
@_options.chromosomes
@_options.device
@_options.threads
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Windows per forward pass.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the thinning, PCA and k-means.")
def command(inputs, model, output, n_components, pca_components, depth, clusters, clusters_tsv, chromosomes,
            device, threads, batch_size, seed):
    """Embed the cells of CELLS.scool with a trained model into an AnnData file.

    obs: the cells, named as in the input, with their stored metadata (labels); obsm['X_hicdiff']: the
    model's embedding; obsm['X_pca']: PCA of the imputed maps. In scanpy:
    sc.pp.neighbors(adata, use_rep='X_hicdiff'). See docs/embedding.md.
    """
    from hicdiff.embed import run_embed
    from hicdiff.errors import HicdiffError

    if clusters_tsv and not clusters:
        raise HicdiffError("--clusters-tsv needs --clusters K")
    adata = run_embed(list(inputs) if len(inputs) > 1 else inputs[0], model, output, clusters_tsv=clusters_tsv,
                      n_components=n_components, pca_components=pca_components, depth=depth, clusters=clusters,
                      chroms=_options.split_names(chromosomes), device=device, threads=threads,
                      batch_size=batch_size, seed=seed)
    click.echo(f"{adata.n_obs} cells -> {output}")
