"""Prompt packs (per-class descriptions as validated JSON) and the LLM generator that writes them.

``pack``: the schema, loading, saving, validation and lookup; ``generate``: CuPL-style generation
through any OpenAI-compatible endpoint; ``cupl``: import of CuPL's published English ImageNet
descriptions; ``check``: audits. Only ``pack`` is imported here, so reading a pack costs no
``openai`` or ``torch`` import.
"""

from cnclip_eval.prompts.pack import (
    PACKS_DIR,
    GeneratorInfo,
    PackClass,
    PromptPack,
    find_pack,
    load_pack,
    make_pack,
    save_pack,
    validate_against,
)

__all__ = [
    "PACKS_DIR",
    "GeneratorInfo",
    "PackClass",
    "PromptPack",
    "find_pack",
    "load_pack",
    "make_pack",
    "save_pack",
    "validate_against",
]
