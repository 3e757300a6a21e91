"""Few-shot CoOp training of the context vectors on cached image features (image tower frozen).

CoOp's recipe is the default: SGD (momentum 0.9, weight decay 5e-4), lr 0.002 with a cosine
schedule after one warm-up epoch at a constant 1e-5, batch 32, epochs by shot count, 16 context
vectors. KgCoOp (Yao et al., CVPR 2023, arXiv 2303.13283) is one more loss term, ``kg_weight * (1 -
mean cos(learned text feature, hand-written text feature))`` over the classes, as in its code; the
hand-written features here are the dataset's template ensemble (the ``baseline`` classifier). Everything random (initialisation, shuffling) draws from one generator seeded by ``seed``,
so two runs with one seed give identical contexts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from cnclip_eval.methods.coop.text_path import (
    embedding_input,
    encode_with_context,
    name_token_ids,
    phrase_token_ids,
)
from cnclip_eval.models.base import LoadedModel

log = logging.getLogger(__name__)

EPOCHS_BY_SHOTS = {1: 50, 2: 100, 4: 100, 8: 200, 16: 200}


@dataclass(frozen=True)
class Recipe:
    n_ctx: int = 16
    init: str = ""  # a Chinese phrase whose word embeddings start the context ("" = random N(0, 0.02))
    position: str = "end"  # where the class name sits: end | middle | front
    csc: bool = False  # one context per class instead of one shared by all
    lr: float = 0.002
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 32
    epochs: int | None = None  # None: by shot count (EPOCHS_BY_SHOTS)
    warmup_epochs: int = 1
    warmup_lr: float = 1e-5
    seed: int = 0
    kg_weight: float = 0.0  # KgCoOp's weight (8.0 in its paper); 0: plain CoOp

    def epochs_for(self, shots: int) -> int:
        return self.epochs or EPOCHS_BY_SHOTS.get(shots, 200)

    def as_dict(self) -> dict:
        return asdict(self)


def initial_context(
    model: LoadedModel, recipe: Recipe, num_classes: int, generator: torch.Generator
) -> torch.Tensor:
    path = embedding_input(model)
    if recipe.init:
        ids = phrase_token_ids(model, recipe.init.replace("…", "").replace("...", ""))
        with torch.no_grad():
            context = path.embed(torch.tensor(ids, device=model.device)).clone()  # (n_ctx, H)
    else:
        context = (torch.randn(recipe.n_ctx, path.hidden_size, generator=generator) * 0.02).to(model.device)
    if recipe.csc:
        context = context.unsqueeze(0).repeat(num_classes, 1, 1)  # (C, n_ctx, H)
    return context


def learning_rate(recipe: Recipe, epoch: int, epochs: int) -> float:
    if epoch < recipe.warmup_epochs:
        return recipe.warmup_lr
    return 0.5 * recipe.lr * (1 + math.cos(math.pi * epoch / epochs))


def train_context(
    model: LoadedModel,
    classnames: list[str],
    features: torch.Tensor,
    labels: torch.Tensor,
    recipe: Recipe,
    shots: int,
    epoch_features: Callable[[int], torch.Tensor] | None = None,
    anchor: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """The learned context and a log: loss per epoch, train accuracy before and after.

    ``features`` are the cached (un-augmented) features; with ``epoch_features``, each epoch trains on
    the features it returns for that epoch instead (CoOp's augmentation), same rows, same labels.
    Accuracy is always measured on the un-augmented ``features``. ``anchor`` (C, D): the hand-written
    prompts' text features that KgCoOp's term (``recipe.kg_weight``) keeps the learned ones near.
    """
    if recipe.kg_weight and anchor is None:
        raise ValueError("KgCoOp's term needs the hand-written prompts' features (anchor)")
    generator = torch.Generator().manual_seed(recipe.seed)
    model.module.eval()  # the frozen towers must not use dropout
    for parameter in model.module.parameters():
        parameter.requires_grad_(False)
    names = name_token_ids(model, classnames)
    context = torch.nn.Parameter(initial_context(model, recipe, len(classnames), generator))
    optimizer = torch.optim.SGD(
        [context], lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    scale = embedding_input(model).logit_scale
    features = F.normalize(features.float(), dim=-1)  # (N, D)
    device = features.device
    epochs = recipe.epochs_for(shots)
    losses = []
    accuracy_before = _accuracy(model, context, names, recipe, features, labels)
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(recipe, epoch, epochs)
        order = torch.randperm(len(labels), generator=generator)
        seen = features if epoch_features is None else F.normalize(epoch_features(epoch).to(device), dim=-1)
        total = 0.0
        for start in range(0, len(order), recipe.batch_size):
            batch = order[start : start + recipe.batch_size]
            text = F.normalize(encode_with_context(model, context, names, recipe.position), dim=-1)  # (C, D)
            loss = F.cross_entropy(scale * seen[batch] @ text.T, labels[batch])
            if recipe.kg_weight:
                loss = loss + recipe.kg_weight * (1.0 - F.cosine_similarity(text, anchor, dim=-1).mean())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(labels))
        log.info("epoch %d/%d: loss %.4f", epoch + 1, epochs, losses[-1])
    accuracy_after = _accuracy(model, context, names, recipe, features, labels)
    return context.detach(), {
        "epochs": epochs,
        "losses": losses,
        "train_accuracy_before": accuracy_before,
        "train_accuracy_after": accuracy_after,
    }


@torch.no_grad()
def _accuracy(model, context, names, recipe: Recipe, features, labels) -> float:
    text = F.normalize(encode_with_context(model, context, names, recipe.position), dim=-1)
    return float(((features @ text.T).argmax(1) == labels).float().mean())
