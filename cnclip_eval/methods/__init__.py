"""Registered methods that turn class names into a zero-shot classifier (see ``base``)."""

from cnclip_eval.methods.base import Classifier, DatasetTexts, Method, MethodContext, Option
from cnclip_eval.registry import Registry

METHODS: Registry[Method] = Registry("method")
METHODS.add(
    "baseline", "cnclip_eval.methods.baseline:TemplateEnsemble", "template ensemble with the class name"
)
METHODS.add(
    "bilingual",
    "cnclip_eval.methods.bilingual:BilingualEnsemble",
    "Chinese + English text-embedding ensemble",
)
METHODS.add(
    "coop", "cnclip_eval.methods.coop.method:CoopContext", "CoOp learnable context vectors (few-shot)"
)
METHODS.add(
    "llm", "cnclip_eval.methods.llm:LlmDescriptions", "CuPL-style LLM class descriptions (arXiv 2209.03320)"
)
METHODS.add(
    "waffle",
    "cnclip_eval.methods.waffle:WaffleDescriptors",
    "WaffleCLIP control: random descriptors after the class name (arXiv 2306.07282)",
)

__all__ = ["METHODS", "Classifier", "DatasetTexts", "Method", "MethodContext", "Option"]
