"""List what is registered: models, datasets, methods, template sets, metrics or leaderboard formats."""

from __future__ import annotations

import argparse

from tabulate import tabulate

from cnclip_eval.registry import Registry


def registries() -> dict[str, Registry]:
    from cnclip_eval.data.catalog import DATASETS
    from cnclip_eval.methods import METHODS
    from cnclip_eval.metrics import METRICS
    from cnclip_eval.models import MODELS
    from cnclip_eval.report.render import FORMATS
    from cnclip_eval.templates import TEMPLATE_SETS

    return {
        "models": MODELS,
        "datasets": DATASETS,
        "methods": METHODS,
        "templates": TEMPLATE_SETS,
        "metrics": METRICS,
        "formats": FORMATS,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("models", "datasets", "methods", "templates", "metrics", "formats"))


def dataset_rows() -> list[list]:
    from cnclip_eval.data.catalog import CLASSNAMES_DIR, DATASETS

    rows = []
    for entry in DATASETS.entries():
        spec = DATASETS.get(entry.name)
        has_zh = all((CLASSNAMES_DIR / f).is_file() for f in spec.classnames_zh.values())
        rows.append(
            [
                spec.name,
                spec.num_classes,
                spec.task,
                spec.main_metric,
                "yes" if has_zh else "no",
                ", ".join(spec.classnames_zh),
                spec.source or "(none: use --data-root)",
            ]
        )
    return rows


def model_rows() -> list[list]:
    """Every registered model with its family, languages and source, then the family prefixes."""
    from cnclip_eval.models import FAMILIES, MODELS, card_of

    rows = []
    for entry in MODELS.entries():
        card = card_of(entry.name)
        rows.append([entry.name, card.family, ", ".join(card.languages) or "?", card.source, card.summary])
    for entry in FAMILIES.entries():
        rows.append(
            [f"{entry.name}:...", entry.name, "by model", "--model " + entry.name + ":...", entry.summary]
        )
    return rows


def run(args: argparse.Namespace) -> int:
    if args.what == "models":
        print(
            tabulate(
                model_rows(),
                headers=["model", "family", "languages", "source", "description"],
                tablefmt="github",
            )
        )
        return 0
    if args.what == "datasets":
        print(
            tabulate(
                dataset_rows(),
                headers=["dataset", "classes", "task", "metric", "zh names", "zh lists", "default source"],
                tablefmt="github",
            )
        )
        from cnclip_eval.data.retrieval_dataset import RETRIEVAL_SPECS

        rows = [
            [s.name, s.split, "+".join(s.directions), "mean_recall", s.release]
            for s in RETRIEVAL_SPECS.values()
        ]
        print()
        print(
            tabulate(
                rows,
                headers=["retrieval dataset", "split", "directions", "metric", "--data-root"],
                tablefmt="github",
            )
        )
        return 0
    registry = registries()[args.what]
    rows = []
    for entry in registry.entries():
        summary = entry.summary
        if args.what == "methods":
            summary = registry.get(entry.name).summary
        rows.append([entry.name, summary])
    print(tabulate(rows, headers=[args.what[:-1], "description"], tablefmt="github"))
    if args.what == "metrics":  # the retrieval task's, computed from query ranks rather than logits
        from cnclip_eval.tasks.retrieval_metrics import DESCRIPTIONS

        print()
        print(
            tabulate(
                list(DESCRIPTIONS.items()), headers=["retrieval metric", "description"], tablefmt="github"
            )
        )
    return 0
