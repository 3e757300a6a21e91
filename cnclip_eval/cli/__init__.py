"""The ``cnclip-eval`` command line: a thin layer that parses, calls the library and prints.

``cnclip-eval --dataset D --method M`` (no sub-command) evaluates; the sub-commands below do the
rest. Each sub-command is a module with ``add_arguments(parser)`` and ``run(args) -> int``,
registered lazily so that ``--help`` and ``ls`` start without importing torch.
"""

from __future__ import annotations

import argparse
import logging
import sys

from cnclip_eval.errors import UserError
from cnclip_eval.registry import Registry

COMMANDS: Registry = Registry("command")
COMMANDS.add("eval", "cnclip_eval.cli.eval_cmd", "evaluate models x datasets x methods (the default command)")
COMMANDS.add(
    "ls", "cnclip_eval.cli.ls_cmd", "list models, datasets, methods, template sets, metrics or formats"
)
COMMANDS.add(
    "run", "cnclip_eval.cli.run_cmd", "run a suite (YAML), skipping results that exist, then the leaderboard"
)
COMMANDS.add(
    "export",
    "cnclip_eval.cli.export_cmd",
    "export methods as CLIP_benchmark template/class-name/classifier files",
)
COMMANDS.add(
    "convert", "cnclip_eval.cli.convert_cmd", "image folders (ELEVATER or ImageFolder) -> webdataset shards"
)
COMMANDS.add("coop", "cnclip_eval.cli.coop_cmd", "train CoOp context vectors few-shot")
COMMANDS.add("prompts", "cnclip_eval.cli.prompts_cmd", "generate, import and check prompt packs")
COMMANDS.add(
    "leaderboard",
    "cnclip_eval.cli.leaderboard_cmd",
    "rank result files: md, latex, csv, html or json, with intervals and paired tests",
)
COMMANDS.add("check", "cnclip_eval.cli.check_cmd", "compare results with a baseline leaderboard (CI gate)")

DEFAULT_COMMAND = "eval"


def build_parser(command: str) -> argparse.ArgumentParser:
    module = COMMANDS.get(command)
    prog = "cnclip-eval" if command == DEFAULT_COMMAND else f"cnclip-eval {command}"
    epilog = None
    if command == DEFAULT_COMMAND:
        epilog = "other commands:\n" + "\n".join(
            f"  {e.name:<12} {e.summary}" for e in COMMANDS.entries() if e.name != DEFAULT_COMMAND
        )
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    module.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else DEFAULT_COMMAND
    if command != DEFAULT_COMMAND or (argv and argv[0] == DEFAULT_COMMAND):
        argv = argv[1:]
    parser = build_parser(command)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(COMMANDS.get(command).run(args) or 0)
    except UserError as error:
        print(f"cnclip-eval: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(
            "cnclip-eval: interrupted; finished work is cached, run the same command to resume",
            file=sys.stderr,
        )
        return 130
