"""cnclip-eval: a zero-shot evaluation harness for Chinese CLIP (CN-CLIP)."""

__version__ = "0.1.0"
