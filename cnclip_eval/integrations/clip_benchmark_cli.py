"""``cnclip-benchmark``: CLIP_benchmark's own command line with the ``cn_clip`` model type.

It registers the model type (and the numpy-2 fix, see :mod:`cnclip_eval.integrations.clip_benchmark`)
and hands the arguments to ``clip_benchmark.cli.main`` unchanged, so every CLIP_benchmark option,
dataset and output file works as documented there:

    cnclip-benchmark eval --model_type cn_clip --model ViT-B-16 --pretrained '' \\
        --dataset wds/imagenet1k --dataset_root /data/wds_imagenet1k --no_amp \\
        --custom_classname_file classnames.json --custom_template_file templates.baseline.json

Run without installing: ``python -m cnclip_eval.integrations.clip_benchmark_cli eval ...``.
"""

from __future__ import annotations

import logging
import sys

from cnclip_eval.errors import UserError

PROG = "cnclip-benchmark"


def main(argv: list[str] | None = None) -> int:
    """Run CLIP_benchmark's CLI on ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    from cnclip_eval.integrations.clip_benchmark import register

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    register()  # before clip_benchmark builds its parser, whose --model_type choices are MODEL_TYPES
    from clip_benchmark import cli

    args = list(sys.argv[1:] if argv is None else argv)
    saved_argv = sys.argv
    sys.argv = [PROG, *args]  # clip_benchmark's parser reads sys.argv and takes no argument
    try:
        cli.main()
    except UserError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.exit_code
    finally:
        sys.argv = saved_argv
    return 0


if __name__ == "__main__":
    sys.exit(main())
