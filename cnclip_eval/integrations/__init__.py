"""Bridges to other evaluation tools, kept apart from the core so that it never imports them.

* :mod:`cnclip_eval.integrations.clip_benchmark`: the ``cn_clip`` model type for CLIP_benchmark
  (and the fix its 1.6.2 release needs under numpy 2);
* :mod:`cnclip_eval.integrations.clip_benchmark_cli`: ``cnclip-benchmark``, CLIP_benchmark's own CLI
  with that model type registered;
* :mod:`cnclip_eval.integrations.export`: our methods written as CLIP_benchmark's class-name,
  template and ``--load_clfs`` classifier files.

Nothing here is imported by ``cnclip_eval`` itself, so CLIP_benchmark stays an optional import path.
"""
