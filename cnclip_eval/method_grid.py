"""Several runs of one method from one line: ``--seeds 1,2,3`` on the command line, and option lists in
a suite (``{name: tip-adapter, shots: [1, 2, 4, 8, 16], seed: [1, 2, 3]}`` is 15 runs). Pure: method
specs in, method specs out; the leaderboard shows the runs that differ only by seed as one row (mean
+- std over the seeds, see :mod:`cnclip_eval.naming` and :mod:`cnclip_eval.report.leaderboard`)."""

from __future__ import annotations

import itertools

from cnclip_eval.config import MethodSpec
from cnclip_eval.errors import UserError


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"1,2,3"`` -> (1, 2, 3); one line for anything else (a repeated seed would run twice)."""
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(
            f"--seeds {text}: expected whole numbers separated by commas, e.g. --seeds 1,2,3"
        ) from None
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {text}: a seed is named twice")
    return seeds


def with_seeds(
    specs: tuple[MethodSpec, ...], seeds: tuple[int, ...], seeded: set[str]
) -> tuple[MethodSpec, ...]:
    """Each spec of a method in ``seeded`` (the methods with a ``seed`` option) once per seed; the others once."""
    if not any(spec.name in seeded for spec in specs):
        raise UserError(
            f"--seeds: none of the methods ({', '.join(s.name for s in specs)}) takes a seed; "
            f"those that do: {', '.join(sorted(seeded))}"
        )
    expanded = []
    for spec in specs:
        if spec.name not in seeded:
            expanded.append(spec)
            continue
        if "seed" in spec.options:
            raise UserError(f"--seeds and --{spec.name}-seed both set the seed of {spec.name!r}; give one")
        expanded.extend(
            MethodSpec(spec.name, {**spec.options, "seed": s}, spec.label, spec.templates) for s in seeds
        )
    return tuple(expanded)


def expand_grid(spec: MethodSpec, where: str) -> list[MethodSpec]:
    """One spec per combination of the option values given as lists (in the order written)."""
    listed = {k: v for k, v in spec.options.items() if isinstance(v, list)}
    if not listed:
        return [spec]
    for key, values in listed.items():
        if not values or len({repr(v) for v in values}) != len(values):
            raise UserError(f"{where}: option {key!r} of {spec.name!r} lists no value or one value twice")
    if spec.label:
        raise UserError(f"{where}: a method line with option lists runs several times; give it no 'label'")
    fixed = {k: v for k, v in spec.options.items() if k not in listed}
    return [
        MethodSpec(spec.name, {**fixed, **dict(zip(listed, values))}, None, spec.templates)
        for values in itertools.product(*listed.values())
    ]
