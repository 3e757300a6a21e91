"""The frozen description of one run: what to evaluate and how. Pure data, no heavy imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnclip_eval.data.resolve import DatasetRequest


@dataclass(frozen=True)
class MethodSpec:
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None  # the run name in results; defaults to the method name
    templates: str | None = None  # overrides the dataset's template set for this method

    @property
    def run_name(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class RunConfig:
    models: tuple[str, ...]
    datasets: tuple[DatasetRequest, ...]
    methods: tuple[MethodSpec, ...]
    arch: str | None = None
    batch_size: int = 64
    text_batch_size: int = 256
    num_workers: int = 2
    device: str = "auto"
    precision: str = "fp32"
    decode: str = "pil"  # "pil": CN-CLIP's own preprocessing in the workers; "torchvision": on the device
    output_dir: Path = Path("results")
    cache_dir: Path | None = None
    model_cache_dir: Path | None = None
    use_modelscope: bool = False
    limit: int | None = None
    seed: int = 0
    progress: bool = True
    skip_existing: bool = False  # reuse results in output_dir made from the same inputs (suites)
