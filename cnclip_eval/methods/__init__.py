"""Registered methods: zero-shot ones turn class names into a classifier (see ``base``), few-shot ones
also learn from K train images per class (see ``fewshot``)."""

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
    "tip-adapter",
    "cnclip_eval.methods.tip_adapter:TipAdapter",
    "Tip-Adapter: zero-shot logits + a K-shot feature cache (few-shot, training-free; arXiv 2207.09519)",
)
METHODS.add(
    "tip-adapter-f",
    "cnclip_eval.methods.tip_adapter:TipAdapterF",
    "Tip-Adapter-F: Tip-Adapter with fine-tuned cache keys (few-shot; arXiv 2207.09519)",
)
METHODS.add(
    "linear-probe",
    "cnclip_eval.methods.linear_probe:LinearProbe",
    "linear probe on K-shot features, head initialised from the text classifier (ELEVATER)",
)
METHODS.add(
    "waffle",
    "cnclip_eval.methods.waffle:WaffleDescriptors",
    "WaffleCLIP control: random descriptors after the class name (arXiv 2306.07282)",
)

__all__ = ["METHODS", "Classifier", "DatasetTexts", "Method", "MethodContext", "Option"]
