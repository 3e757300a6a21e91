"""Every shipped description pack passes `prompts check --strict` and fits its class-name lists."""

from __future__ import annotations

import pytest

from cnclip_eval.data.catalog import CLASSNAMES_DIR, read_classname_file
from cnclip_eval.prompts.check import count_truncated
from cnclip_eval.prompts.pack import PACKS_DIR, load_pack, validate_against
from cnclip_eval.prompts.quality import quality_problems

# packs are named by the catalog's dataset name, class-name files by ELEVATER's key
CLASSNAME_FILES = {
    "eurosat": "eurosat_clip",
    "resisc45": "resisc45_clip",
    "fgvc-aircraft": "fgvc-aircraft-2013b-variants102",
}
PACKS = sorted(PACKS_DIR.glob("*.json"))


@pytest.mark.parametrize("path", PACKS, ids=[p.name for p in PACKS])
def test_shipped_pack(path):
    pack = load_pack(path)
    names_file = CLASSNAMES_DIR / f"{CLASSNAME_FILES.get(pack.dataset, pack.dataset)}.{pack.language}.txt"
    assert not validate_against(pack, read_classname_file(names_file), names="error")
    assert quality_problems(pack) == {}
    truncated, why_not = count_truncated(pack)
    assert why_not is None and truncated == {}
    if pack.generator.kind == "llm":  # says which model wrote it, following which questions
        assert pack.generator.llm_model and pack.generator.queries
    else:  # an import says where from
        assert pack.generator.source
