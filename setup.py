"""Packages of the distribution; everything else is in pyproject.toml.

The shipped prompt packs are data at the repository's top level (``prompts/``, beside the suites in
``benchmarks/``). A wheel installs them inside the package as ``cnclip_eval/_packs`` so a
non-editable install finds them (``cnclip_eval.prompts.pack``). pyproject.toml alone cannot say
"the packages found, plus this mapped folder", hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["cnclip_eval*"]), "cnclip_eval._packs"],
    package_dir={"cnclip_eval._packs": "prompts"},
)
