"""Generate, import and check prompt packs (per-class descriptions for the ``llm`` method).

Examples:
  cnclip-eval prompts generate --dataset imagenet1k --lang zh --llm-model qwen2.5:7b \\
      --base-url http://127.0.0.1:11434/v1 --out imagenet1k.zh.json
  DASHSCOPE_API_KEY=... cnclip-eval prompts generate --dataset my_shards --classnames names.txt \\
      --llm-model qwen-plus --base-url https://dashscope.aliyuncs.com/compatible-mode/v1 \\
      --api-key-env DASHSCOPE_API_KEY --out my_shards.zh.json
  cnclip-eval prompts import-cupl --out imagenet1k.en.json
  cnclip-eval prompts check imagenet1k.zh.json imagenet1k.en.json

A killed `generate` resumes from its answer cache: run the same command again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnclip_eval.errors import UserError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="prompts_command", required=True, metavar="COMMAND")
    for name, add, summary in (
        ("generate", _add_generate, "ask an LLM for class descriptions (CuPL-style); resumes from its cache"),
        (
            "import-cupl",
            _add_import,
            "English ImageNet-1k pack from CuPL's descriptions (clip_benchmark's copy)",
        ),
        ("check", _add_check, "validate packs: schema, fit to the class list, duplicates, token lengths"),
    ):
        add(commands.add_parser(name, help=summary, description=summary))


def _verbose(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an unset flag here must not reset a -v given before the sub-command
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details")


def _add_generate(parser: argparse.ArgumentParser) -> None:
    _verbose(parser)
    what = parser.add_argument_group("what to describe")
    what.add_argument("--dataset", required=True, help="catalog name, or any name with --classnames")
    what.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of names and descriptions")
    what.add_argument("--classnames", type=Path, help="class names, one per line (index = label)")
    what.add_argument("--out", type=Path, help="pack to write (default: ./{dataset}.{lang}.json)")
    llm = parser.add_argument_group("LLM endpoint (any OpenAI-compatible chat API)")
    llm.add_argument("--llm-model", required=True, help="model name as the endpoint knows it")
    llm.add_argument(
        "--base-url", help="e.g. http://127.0.0.1:11434/v1 (default: $OPENAI_BASE_URL or OpenAI)"
    )
    llm.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="variable holding the key (default %(default)s)"
    )
    llm.add_argument("--n", type=_positive_int, default=5, help="answers per class and query (default 5)")
    llm.add_argument("--temperature", type=float, default=0.99, help="sampling temperature (default 0.99)")
    llm.add_argument(
        "--max-chars", type=_positive_int, default=40, help="length the queries ask for (default 40)"
    )
    llm.add_argument("--concurrency", type=_positive_int, default=8, help="requests in flight (default 8)")
    llm.add_argument("--max-retries", type=int, default=6, help="client retries per request (default 6)")
    llm.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    llm.add_argument("--cache-dir", type=Path, help="answer cache (default: cnclip-eval's cache/llm-answers)")
    llm.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_import(parser: argparse.ArgumentParser) -> None:
    _verbose(parser)
    parser.add_argument("--out", type=Path, required=True, help="pack to write, e.g. imagenet1k.en.json")
    parser.add_argument(
        "--cupl-file", type=Path, help="CuPL JSON (default: clip_benchmark's cupl_prompts.json)"
    )
    parser.add_argument(
        "--keep-duplicates", action="store_true", help="keep repeated descriptions (CuPL's exact weighting)"
    )


def _add_check(parser: argparse.ArgumentParser) -> None:
    _verbose(parser)
    parser.add_argument("packs", nargs="+", type=Path, help="pack files")
    parser.add_argument("--classnames", type=Path, help="check against these names (default: the catalog's)")
    parser.add_argument(
        "--allow-truncated", action="store_true", help="descriptions over 50 tokens are no problem"
    )
    parser.add_argument("--no-tokens", action="store_true", help="skip the token-length check")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="shipped-pack rules too: >= 5 descriptions per class, each naming its class, zh <= 40 "
        "characters and no English words, no description shared by two classes",
    )
    parser.add_argument(
        "--rehash", action="store_true", help="record the current content hash (after hand edits)"
    )
    parser.add_argument("--show", type=_positive_int, default=10, help="offending classes shown (default 10)")


def run(args: argparse.Namespace) -> int:
    handlers = {"generate": _run_generate, "import-cupl": _run_import, "check": _run_check}
    return handlers[args.prompts_command](args)


# --------------------------------------------------------------------------- generate


def dataset_classnames(dataset: str, language: str, classnames: Path | None) -> tuple[str, list[str]]:
    """(pack dataset name, class names): from ``--classnames`` or the catalog."""
    from cnclip_eval.data.catalog import find_spec, is_catalog_name, read_classname_file

    if not is_catalog_name(dataset):
        if classnames is None:
            raise UserError(
                f"dataset {dataset!r} is not in the catalog (see `cnclip-eval ls datasets`): "
                "give its class names with --classnames FILE (one per line, index = label)"
            )
        return Path(dataset).name or dataset, read_classname_file(classnames)
    spec = find_spec(dataset)
    if classnames is not None:
        return spec.name, read_classname_file(classnames, spec.num_classes)
    names = spec.read_classnames() if language == "zh" else spec.read_classnames_en()
    if names is None:
        raise UserError(f"dataset {spec.name!r} has no English class names: give --classnames FILE")
    return spec.name, names


def _run_generate(args: argparse.Namespace) -> int:
    from cnclip_eval.features import default_cache_dir
    from cnclip_eval.prompts.endpoint import EndpointConfig
    from cnclip_eval.prompts.generate import GenerationRequest, generate_pack
    from cnclip_eval.prompts.pack import save_pack

    dataset, names = dataset_classnames(args.dataset, args.lang, args.classnames)
    request = GenerationRequest(
        dataset=dataset,
        language=args.lang,
        classnames=tuple(names),
        llm_model=args.llm_model,
        cache_dir=args.cache_dir or default_cache_dir() / "llm-answers",
        endpoint=EndpointConfig(args.base_url, args.api_key_env, args.max_retries, args.timeout),
        n=args.n,
        temperature=args.temperature,
        concurrency=args.concurrency,
        max_chars=args.max_chars,
    )
    pack = generate_pack(request, progress=not args.no_progress)
    out = save_pack(pack, args.out or Path(f"{dataset}.{args.lang}.json"))
    empty = sum(1 for c in pack.classes if not c.descriptions)
    print(f"wrote {out}: {len(pack.classes)} classes, {pack.num_descriptions} descriptions")
    if empty:
        print(f"warning: {empty} classes have no description; see `cnclip-eval prompts check {out}`")
    return 1 if empty else 0


# --------------------------------------------------------------------------- import-cupl


def _run_import(args: argparse.Namespace) -> int:
    from cnclip_eval.prompts.cupl import import_cupl
    from cnclip_eval.prompts.pack import save_pack

    pack = import_cupl(args.cupl_file, keep_duplicates=args.keep_duplicates)
    out = save_pack(pack, args.out)
    print(f"wrote {out}: {len(pack.classes)} classes, {pack.num_descriptions} descriptions")
    for note in pack.notes:
        print(f"  note: {note}")
    return 0


# --------------------------------------------------------------------------- check


def _reference_names(pack, classnames: Path | None) -> list[str] | None:
    """The names to check ``pack`` against: ``--classnames``, else the catalog's, else none."""
    from cnclip_eval.data.catalog import find_spec, is_catalog_name, read_classname_file

    if classnames is not None:
        return read_classname_file(classnames)
    if not is_catalog_name(pack.dataset):
        return None
    spec = find_spec(pack.dataset)
    return spec.read_classnames() if pack.language == "zh" else spec.read_classnames_en()


def _run_check(args: argparse.Namespace) -> int:
    from cnclip_eval.prompts.check import check_pack
    from cnclip_eval.prompts.pack import load_pack, save_pack

    failed = 0
    for path in args.packs:
        if args.rehash:
            save_pack(load_pack(path, verify_hash=False), path)
        report = check_pack(
            path,
            lambda pack: _reference_names(pack, args.classnames),
            count_tokens=not args.no_tokens,
            strict=args.strict,
        )
        print_report(report, args.show, args.allow_truncated)
        failed += not report.ok(args.allow_truncated)
    if len(args.packs) > 1:
        print(f"{len(args.packs) - failed} of {len(args.packs)} packs ok")
    return 1 if failed else 0


def print_report(report, show: int, allow_truncated: bool) -> None:
    pack = report.pack
    if pack is None:
        print(f"{report.path}: FAILED\n  {report.errors[0]}")
        return
    made = pack.generator.llm_model or pack.generator.endpoint
    print(
        f"{report.path}: {pack.dataset} ({pack.language}), {len(pack.classes)} classes, "
        f"{pack.num_descriptions} descriptions, {pack.generator.kind} {made}, "
        f"sha256 {pack.content_sha256[:12]}"
    )
    for error in report.errors:
        print(f"  ERROR {error}")
    names = {c.index: c.name for c in pack.classes}
    if report.duplicates:
        print(f"  duplicate descriptions in {len(report.duplicates)} classes:")
        for index, texts in list(report.duplicates.items())[:show]:
            print(f"    {index} ({names[index]}): {len(texts)} repeated, e.g. {texts[0]!r}")
    if report.truncated:
        level = "note" if allow_truncated else "PROBLEM"
        total = sum(report.truncated.values())
        print(
            f"  {level}: {total} descriptions in {len(report.truncated)} classes exceed 50 tokens (cut at 52):"
        )
        for index, count in list(report.truncated.items())[:show]:
            print(f"    {index} ({names[index]}): {count}")
    for kind, offenders in report.quality.items():
        print(f"  {kind}: {len(offenders)} classes")
        for index, texts in list(offenders.items())[:show]:
            print(
                f"    {index} ({names[index]}): {texts[0]!r}"
                + (f" (+{len(texts) - 1})" if len(texts) > 1 else "")
            )
    if report.tokenizer:
        print(f"  token lengths {report.tokenizer}")
    print("  ok" if report.ok(allow_truncated) else "  FAILED")
