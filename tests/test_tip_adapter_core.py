import torch

from cnclip_eval.methods.tip_adapter_core import one_hot, tip_adapter_logits


def _data(seed=0, n=40, c=5, m=15, d=16):
    g = torch.Generator().manual_seed(seed)
    norm = torch.nn.functional.normalize
    f = norm(torch.randn(n, d, generator=g), dim=-1)
    w = norm(torch.randn(c, d, generator=g), dim=-1)
    k = norm(torch.randn(m, d, generator=g), dim=-1)
    v = one_hot(torch.randint(0, c, (m,), generator=g), c)
    return f, w, k, v


def test_alpha_zero_equals_zero_shot():
    f, w, k, v = _data()
    assert torch.equal(tip_adapter_logits(f, w, k, v, alpha=0.0, beta=5.0), 100 * f @ w.T)


def test_large_beta_gives_zero_shot_predictions():
    # beta -> inf makes exp(-beta (1 - cos)) -> 0 for every non-identical key
    f, w, k, v = _data()
    got = tip_adapter_logits(f, w, k, v, alpha=1.0, beta=1e4).argmax(-1)
    assert torch.equal(got, (f @ w.T).argmax(-1))


def test_cache_changes_predictions_when_weighted():
    # a test feature equal to a cache key is pulled to that key's label when alpha is large
    f, w, k, v = _data()
    got = tip_adapter_logits(k, w, k, v, alpha=1e4, beta=50.0).argmax(-1)
    assert torch.equal(got, v.argmax(-1))
