"""``waffle``: WaffleCLIP's control, random descriptors beside the class name (Roth et al., arXiv 2306.07282).

WaffleCLIP showed that descriptions from an LLM often help no more than the same number of random
ones: part of a description method's gain is the averaging of many prompts per class, not what
they say. A description method's gain means something only where it beats this control.

As in WaffleCLIP, one set of random descriptors is drawn per seed and used for every class (so the
class name is the only thing that tells the classes apart), in pairs: a random-word descriptor (two
common Chinese words) and a random-character descriptor of the same length (characters of those
words in random order, no longer words). Each prompt is the class name with one descriptor in the
form that ``llm --llm-mode name+descriptions`` (DCLIP's form) uses, ``{c}：{d}``. By default the
number of descriptors equals the mean number of descriptions per class in the dataset's ``llm``
pack, so the control averages as many prompts as the method it checks.

The Chinese word list is jieba's dictionary (a library's list of common words; we need real words,
and no other installed package ships a Chinese one).
"""

from __future__ import annotations

import random
from functools import cache

from cnclip_eval.errors import UserError
from cnclip_eval.methods.base import Classifier, DatasetTexts, MethodBase, MethodContext, Option
from cnclip_eval.methods.llm import NAMED_FORMS

NAMED_DESCRIPTOR_FORM = NAMED_FORMS["zh"]  # the same prompt form as the llm method it controls

MIN_FREQUENCY = 1000  # jieba counts: keeps common words (about 30k), not rare names and terms
WORDS_PER_DESCRIPTOR = 2


@cache
def word_pool() -> tuple[str, ...]:
    """Common Chinese words of 2-4 characters from jieba's dictionary, in its file order."""
    import jieba

    words = []
    with jieba.get_dict_file() as lines:  # jieba's bundled dict.txt: "word frequency tag" per line
        for raw in lines:
            word, frequency = raw.decode("utf-8").split(" ")[:2]
            if 2 <= len(word) <= 4 and int(frequency) >= MIN_FREQUENCY and all(_is_cjk(c) for c in word):
                words.append(word)
    return tuple(words)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def random_descriptors(count: int, seed: int) -> list[str]:
    """``count`` descriptors: pairs of (random words, the same characters shuffled), seeded."""
    if count < 1:
        raise UserError(f"waffle: the number of descriptors must be at least 1, not {count}")
    rng, pool = random.Random(seed), word_pool()
    descriptors: list[str] = []
    while len(descriptors) < count:
        words = "".join(rng.sample(pool, WORDS_PER_DESCRIPTOR))
        characters = list(words)
        rng.shuffle(characters)
        while "".join(characters) == words and len(set(words)) > 1:  # a shuffle may give the words back
            rng.shuffle(characters)
        descriptors += [words, "".join(characters)]
    return descriptors[:count]


def waffle_prompts(classnames: list[str], descriptors: list[str]) -> list[list[str]]:
    """Per class, its name with every descriptor (the same descriptors for all classes)."""
    return [[NAMED_DESCRIPTOR_FORM.format(c=name, d=d) for d in descriptors] for name in classnames]


class WaffleDescriptors(MethodBase):
    name = "waffle"
    kind = "control"
    summary = "WaffleCLIP control: the class name with random word/character descriptors (arXiv 2306.07282)"
    options: tuple[Option, ...] = (
        Option("count", int, 0, "descriptors per class; 0: as many as the dataset's llm pack has (mean)"),
        Option("seed", int, 1, "seed of the random descriptors (one draw shared by every class)"),
        Option("pack", str, None, "the llm pack whose description count to match; None: the shipped one"),
    )

    def cache_inputs(self, texts: DatasetTexts, options: dict) -> dict:
        import jieba

        from cnclip_eval.fileio import sha256_json

        return {"count": self._count(texts, options), "word_pool": sha256_json(list(word_pool())),
                "jieba": jieba.__version__}  # fmt: skip

    def refuses(self, options: dict, languages: tuple[str, ...]) -> str | None:
        if "zh" not in languages:
            return "its random descriptors are Chinese words and characters, and the model reads no Chinese"
        return None

    def build(self, ctx: MethodContext) -> Classifier:
        from cnclip_eval.text import classifier_from_prompts

        count = self._count(ctx.texts, ctx.options)
        descriptors = random_descriptors(count, ctx.options["seed"])
        truncated_before = ctx.encoder.truncated
        weights = classifier_from_prompts(ctx.encoder, waffle_prompts(ctx.texts.classnames, descriptors))
        return Classifier(
            weights,
            {
                "n_descriptors": count,
                "seed": ctx.options["seed"],
                "descriptors": descriptors,
                "form": NAMED_DESCRIPTOR_FORM,
                "truncated_prompts": ctx.encoder.truncated - truncated_before,
            },
        )

    @staticmethod
    def _count(texts: DatasetTexts, options: dict) -> int:
        if options.get("count"):
            return int(options["count"])
        from cnclip_eval.prompts.pack import find_pack, load_pack

        try:
            pack = load_pack(find_pack(texts.dataset, "zh", options.get("pack")))
        except UserError as error:
            raise UserError(f"waffle matches the llm pack's description count, but: {error}; "
                            "or give --waffle-count N") from None  # fmt: skip
        return max(1, round(pack.num_descriptions / len(pack.descriptions_per_class())))
