import torch

from cnclip_eval.methods.linear_probe_core import train_linear_probe


def test_separable_features_reach_full_train_accuracy():
    g = torch.Generator().manual_seed(0)
    c, d, k = 4, 16, 8
    centers = torch.nn.functional.normalize(torch.randn(c, d, generator=g), dim=-1)
    labels = torch.arange(c).repeat_interleave(k)
    x = torch.nn.functional.normalize(centers[labels] + 0.1 * torch.randn(c * k, d, generator=g), dim=-1)
    # start from a classifier that gets the classes wrong: a permuted text head
    init = centers[torch.tensor([1, 2, 3, 0])]
    assert ((x @ init.T).argmax(-1) == labels).float().mean() < 0.5
    head = train_linear_probe(x, labels, init, weight_decay=0.0)
    assert torch.equal((x @ head.T).argmax(-1), labels)
