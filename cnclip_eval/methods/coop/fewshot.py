"""The ``coop train`` flow: resolve data, cache image features, sample K shots per class, train, save."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from cnclip_eval.errors import UserError
from cnclip_eval.fileio import sha256_json


def sample_shots(
    labels: np.ndarray, keys: np.ndarray, shots: int, seed: int, classnames: list[str]
) -> np.ndarray:
    """Indices of ``shots`` samples per class, drawn with ``seed`` (sorted by key first, so the draw
    does not depend on shard order); refuses classes with fewer images."""
    rng = np.random.default_rng(seed)
    order = np.argsort(keys, kind="stable")
    chosen, short = [], []
    for c in range(len(classnames)):
        members = order[labels[order] == c]
        if len(members) < shots:
            short.append(f"{c} {classnames[c]} ({len(members)})")
            continue
        chosen.extend(rng.choice(members, size=shots, replace=False).tolist())
    if short:
        raise UserError(
            f"{shots} shots per class, but these classes have fewer train images: {', '.join(short[:10])}"
        )
    return np.array(sorted(chosen))


# CoOp's augmentation (its configs: random_resized_crop, random_flip, normalize); the crop scale is
# torchvision's default, which CoOp uses
AUGMENT_CROP_SCALE = (0.08, 1.0)


def read_images(dataset, keys: set[str]) -> dict[str, object]:
    """The decoded (PIL) images of ``keys``, read from the shards; other samples are not decoded."""
    from cnclip_eval.data.shards import decode_image, group_samples, tar_members

    found: dict[str, object] = {}
    source = dataset.layout.source
    for shard in dataset.layout.shards:
        name = source.url(shard.relpath)
        with source.open(shard.relpath) as stream:
            for sample in group_samples(tar_members(stream, name), name):
                if sample["__key__"] in keys:
                    found[sample["__key__"]] = decode_image(sample)
    missing = sorted(keys - set(found))
    if missing:
        raise UserError(
            f"{dataset.layout.describe()}: samples {missing[:5]} vanished from the shards since caching"
        )
    return found


def augmented_features(model, images: list, seed: int, batch_size: int = 128):
    """``epoch -> (N, D)`` features of freshly augmented copies of ``images`` (frozen image tower).

    Each epoch draws its crops and flips from ``seed`` and the epoch number, so a run is repeatable.
    """
    from torchvision import transforms as T

    preprocessing = model.preprocessing  # the model's own size and normalization
    augment = T.Compose(
        [
            T.Lambda(lambda image: image.convert("RGB")),
            T.RandomResizedCrop(
                preprocessing.size,
                scale=AUGMENT_CROP_SCALE,
                interpolation=T.InterpolationMode(preprocessing.interpolation),
            ),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(preprocessing.mean, preprocessing.std),
        ]
    )
    device = model.device

    @torch.inference_mode()
    def features(epoch: int) -> torch.Tensor:
        torch.manual_seed(seed * 100_003 + epoch)  # torchvision's random transforms use the global generator
        batch = torch.stack([augment(image) for image in images])
        out = [model.encode_image(chunk.to(device)).float() for chunk in batch.split(batch_size)]
        return torch.cat(out).clone()  # a normal tensor: inference tensors cannot enter autograd

    return features


def train_from_args(args) -> dict:
    from cnclip_eval.config import RunConfig
    from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
    from cnclip_eval.engine import pick_device
    from cnclip_eval.features import default_cache_dir
    from cnclip_eval.image_features import dataset_features
    from cnclip_eval.methods.coop.context_io import save_context
    from cnclip_eval.methods.coop.text_path import embedding_input
    from cnclip_eval.methods.coop.train import Recipe, train_context
    from cnclip_eval.models import ModelRequest, load_model
    from cnclip_eval.tasks.classification import dataset_texts

    if args.shots <= 0:
        raise UserError(f"--shots must be positive, not {args.shots}")
    dataset = resolve_dataset(DatasetRequest(args.dataset, args.data_root, args.split, args.classnames))
    if dataset.layout.multilabel:
        raise UserError(f"{dataset.name}: CoOp training needs single-label data")
    device = pick_device(args.device)
    model = load_model(ModelRequest(args.model, args.arch, None, args.seed, device))
    embedding_input(model)  # a model without the capability is refused before any image is encoded
    # the names the model reads (English ones for an English-only model), as evaluation will give them
    classnames = dataset_texts(dataset, None, model.languages, args.model).classnames
    config = RunConfig(models=(args.model,), datasets=(), methods=(), progress=False)
    images = dataset_features(model, dataset, config, args.cache_dir or default_cache_dir())
    picked = sample_shots(images.labels, images.keys, args.shots, args.seed, classnames)
    recipe = Recipe(
        n_ctx=args.n_ctx,
        init=args.init,
        position=args.class_token_position,
        csc=args.csc,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
    )
    epoch_features = None
    if args.augment:
        picked_keys = [str(k) for k in images.keys[picked]]
        decoded = read_images(dataset, set(picked_keys))
        epoch_features = augmented_features(model, [decoded[k] for k in picked_keys], args.seed)
    torch.manual_seed(args.seed)
    context, log = train_context(
        model,
        classnames,
        images.features[picked].to(device),
        torch.from_numpy(images.labels[picked]).to(device),
        recipe,
        args.shots,
        epoch_features,
    )
    # an --init phrase sets the context length (its own token count), whatever --n-ctx said
    recipe = dataclasses.replace(recipe, n_ctx=int(context.shape[-2]))
    meta = {
        "model_id": model.model_id,
        "arch": model.arch,
        "weights_id": model.weights_id,
        "dataset": dataset.name,
        "split": dataset.layout.split,
        "num_classes": dataset.num_classes,
        "classnames_sha256": sha256_json(classnames),
        "shots": args.shots,
        "seed": args.seed,
        "samples": [str(k) for k in images.keys[picked]],
        "recipe": recipe.as_dict(),
        "augment": bool(args.augment),
        "final_loss": log["losses"][-1],
        **log,
    }
    save_context(args.out, context, meta)
    return meta
