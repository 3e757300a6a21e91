"""``coop``: CoOp's learnable context vectors (Zhou et al., arXiv 2109.01134), on any text tower
that takes input embeddings (the model capability ``text_input_embeddings``).

``text_path`` encodes "[CLS] ctx_1 .. ctx_n <class name> [SEP]" (the family's own framing tokens)
with the context in the tower's input embedding space; ``train`` learns the context few-shot on cached image features; ``context_io``
stores it with what it was trained for; ``method`` evaluates it like any other method.
"""
