"""A small demonstration model and dataset that run offline: synthetic shapes, a tiny CN-CLIP.

``shapes`` draws the images, ``captions`` makes training captions, ``train`` trains the model,
``model`` and ``dataset`` register ``--model demo`` and ``--dataset demo-shapes``. The model is a
demonstration that the harness measures something real, not CN-CLIP.
"""
