import numpy as np

from hicdiff.tokens import Tokenizer


def test_log2_classes_as_documented():
    tok = Tokenizer(8)
    counts = np.array([0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 1000])
    assert tok.encode(counts).tolist() == [0, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    assert tok.mask_id == 8 and tok.pad_id == 9 and tok.vocab_size == 10


def test_counts_tokens_values_round_trip(data_dir):
    from hicdiff.io import open_cells

    cs = open_cells(data_dir / "nagano2017_mesc_scool" / "test_matrix.scool")
    counts = cs.pixels(cs.names[0])["count"].to_numpy()
    tok = Tokenizer(8).fit(counts)
    values = tok.decode(tok.encode(counts))
    small = counts <= 2
    assert np.array_equal(values[small], counts[small])  # 0, 1, 2 are exact
    # each class value is the mean of the counts in the class, so totals per class are preserved
    for k in range(8):
        in_k = tok.encode(counts) == k
        assert np.isclose(values[in_k].sum(), counts[in_k].sum())
    assert np.array_equal(tok.encode(values), tok.encode(counts))  # values stay in their class


def test_serialisation():
    tok = Tokenizer(6).fit(np.arange(100))
    again = Tokenizer.from_dict(tok.to_dict())
    assert again.n_classes == 6 and np.array_equal(again.values, tok.values)
