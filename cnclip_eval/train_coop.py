"""``cnclip-eval coop train``'s work: sample K shots per class of the train split (its keys and labels,
read without decoding), encode the shots (cached, shared with the few-shot methods:
:mod:`cnclip_eval.shot_features`), train CoOp's context vectors and save them with what they were made
from. It sits above the engine and the tasks it uses; the pieces it calls are in
:mod:`cnclip_eval.methods.coop`."""

from __future__ import annotations

import dataclasses

import torch

from cnclip_eval.errors import UserError
from cnclip_eval.fileio import sha256_json
from cnclip_eval.methods.coop.fewshot import augmented_features, read_images
from cnclip_eval.methods.shots import sample_shots


def train_from_args(args) -> dict:
    from cnclip_eval.config import RunConfig
    from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
    from cnclip_eval.engine import pick_device
    from cnclip_eval.features import default_cache_dir
    from cnclip_eval.methods.coop.context_io import save_context
    from cnclip_eval.methods.coop.text_path import embedding_input
    from cnclip_eval.methods.coop.train import Recipe, train_context
    from cnclip_eval.models import ModelRequest, load_model
    from cnclip_eval.shot_features import sample_features, split_index
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
    cache_root = args.cache_dir or default_cache_dir()
    index = split_index(dataset, cache_root)  # keys and labels; only the drawn shots are encoded
    picked = sample_shots(index.labels, index.keys, args.shots, args.seed, classnames)
    shot_features = sample_features(model, dataset, index, picked, config, cache_root).features
    recipe = Recipe(
        n_ctx=args.n_ctx,
        init=args.init,
        position=args.class_token_position,
        csc=args.csc,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        kg_weight=args.kg_weight,
    )
    if args.kg_weight < 0:
        raise UserError(f"--kg-weight must be 0 or more, not {args.kg_weight}")
    anchor, anchor_source = None, None
    if args.kg_weight:  # KgCoOp: the hand-written prompts the learned ones are kept near
        from cnclip_eval.text import TextEncoder, classifier_from_prompts

        texts = dataset_texts(dataset, None, model.languages, args.model)
        prompts = [[t.format(c=name) for t in texts.templates] for name in texts.classnames]
        anchor = classifier_from_prompts(TextEncoder(model, device), prompts).to(device)
        anchor_source = {"templates": dataset.templates_source, "prompts_sha256": sha256_json(prompts)}
    epoch_features = None
    if args.augment:
        picked_keys = [str(k) for k in index.keys[picked]]
        decoded = read_images(dataset, set(picked_keys))
        epoch_features = augmented_features(model, [decoded[k] for k in picked_keys], args.seed)
    torch.manual_seed(args.seed)
    context, log = train_context(
        model,
        classnames,
        shot_features.to(device),
        torch.from_numpy(index.labels[picked]).to(device),
        recipe,
        args.shots,
        epoch_features,
        anchor,
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
        "samples": [str(k) for k in index.keys[picked]],
        "recipe": recipe.as_dict(),
        "augment": bool(args.augment),
        "kg_anchor": anchor_source,  # the hand-written prompts KgCoOp's term kept the context near
        "final_loss": log["losses"][-1],
        **log,
    }
    save_context(args.out, context, meta)
    return meta
