"""Prompt packs for ``demo-shapes``: a few written descriptions per class, for the ``llm`` method.

No LLM wrote these: each form (circle, triangle, square, star, each pattern) has five hand-written
descriptions with a ``{c}`` slot for the class name, so every description names its class as the
catalog spells it (what ``prompts check --strict`` asks of shipped packs). Their wording
("边缘光滑", "像国际象棋的棋盘") never occurs in training, so the ``llm`` method on the demo model
measures how well the class words carry through unseen text. Write the packs with

    python -m cnclip_eval.demo.packs
"""

from __future__ import annotations

from pathlib import Path

from cnclip_eval.demo import shapes

_SHAPES_ZH = {
    "circle": (
        "一个{c}，边缘光滑圆润，没有棱角",
        "{c}像一枚硬币，四周一样圆",
        "画面上有一个{c}，轮廓是一条闭合的弧线",
        "{c}从哪个方向量都一样宽",
        "简单背景上的{c}，形状饱满规则",
    ),
    "triangle": (
        "一个{c}，有三条直边和三个尖角",
        "{c}的三个角都很尖",
        "{c}像一块三角形的路标",
        "画面上有一个{c}，可能朝向任何方向",
        "简单背景上的{c}，轮廓由三条直线围成",
    ),
    "square": (
        "一个{c}，四条边一样长",
        "{c}有四个直角",
        "{c}像一块方方正正的瓷砖",
        "画面上有一个{c}，转过角度后像菱形",
        "简单背景上的{c}，轮廓由四条直边围成",
    ),
    "star": (
        "一个{c}，有五个尖尖的角",
        "{c}像画在夜空里的星星",
        "{c}的边缘一凹一凸",
        "画面上有一个五个角的{c}",
        "简单背景上的{c}，从中心向外伸出尖角",
    ),
}
_PATTERNS_ZH = {
    "stripes": (
        "{c}由两种颜色的平行直条交替组成",
        "{c}里的条带宽窄一致、方向相同",
        "一片{c}，像斑马身上的纹路",
        "{c}的条带笔直，常常是斜着的",
        "画面里铺满了{c}，两种颜色交替排列",
    ),
    "checkerboard": (
        "{c}由两种颜色的方块交替排列",
        "{c}像国际象棋的棋盘",
        "一片{c}，横竖都是整齐的方格",
        "{c}的方格深浅相间",
        "画面里铺满了{c}，整体可能转了一个角度",
    ),
    "polka dots": (
        "{c}是在底色上排得整整齐齐的小圆点",
        "{c}像波点布料",
        "一片{c}，圆点大小相同、间距均匀",
        "{c}里的小圆点一排一排地排列",
        "画面里铺满了{c}，点和底色颜色不同",
    ),
    "wavy lines": (
        "{c}由一条条弯曲起伏的线组成",
        "{c}像水面上的波纹",
        "一片{c}，线条上下起伏",
        "{c}里的曲线彼此平行",
        "画面里铺满了{c}，线条弯弯曲曲没有直边",
    ),
}
_SHAPES_EN = {
    "circle": (
        "a {c} with a smooth round edge and no corners",
        "a {c} that looks like a coin",
        "a {c}, equally wide in every direction",
        "a single {c} on a plain background",
        "a {c} drawn as a filled disc",
    ),
    "triangle": (
        "a {c} with three straight sides and three sharp corners",
        "a {c} that looks like a road sign",
        "a {c} pointing in any direction",
        "a single {c} on a plain background",
        "a {c} with pointed tips",
    ),
    "square": (
        "a {c} with four equal sides",
        "a {c} with four right angles",
        "a {c} that looks like a tile",
        "a {c}, perhaps turned so that it looks like a diamond",
        "a single {c} on a plain background",
    ),
    "star": (
        "a {c} with five sharp points",
        "a {c} like a star drawn in the night sky",
        "a {c} whose edge goes in and out",
        "a single five-pointed {c}",
        "a {c} with points spreading out from its centre",
    ),
}
_PATTERNS_EN = {
    "stripes": (
        "stripes made of parallel bands in two colours",
        "even stripes like a zebra's coat",
        "straight stripes running at an angle",
        "a pattern of stripes filling the picture",
        "stripes of equal width alternating in colour",
    ),
    "checkerboard": (
        "a checkerboard of alternating squares in two colours",
        "a checkerboard like a chess board",
        "a tilted checkerboard of even squares",
        "a checkerboard pattern filling the picture",
        "a checkerboard of light and dark squares",
    ),
    "polka dots": (
        "polka dots in neat rows on a plain ground",
        "polka dots like a spotted fabric",
        "small round polka dots evenly spaced",
        "a pattern of polka dots filling the picture",
        "polka dots of one size set in a grid",
    ),
    "wavy lines": (
        "wavy lines that curve up and down",
        "wavy lines like ripples on water",
        "parallel wavy lines in two colours",
        "a pattern of wavy lines filling the picture",
        "wavy lines with no straight edges",
    ),
}


def descriptions(language: str) -> list[list[str]]:
    """Per class index, the descriptions in ``language`` ("zh" or "en") with the class name filled in."""
    names = shapes.CLASSNAMES_ZH if language == "zh" else shapes.CLASSNAMES_EN
    frames = {**_SHAPES_ZH, **_PATTERNS_ZH} if language == "zh" else {**_SHAPES_EN, **_PATTERNS_EN}
    forms = [form for _, _, _ in shapes.COLOURS for _, form in shapes.FORMS]
    forms += [form for _, form in shapes.PATTERNS]
    return [[frame.format(c=name) for frame in frames[form]] for name, form in zip(names, forms)]


def write_packs(directory: Path | None = None) -> list[Path]:
    """``demo-shapes.zh.json`` and ``demo-shapes.en.json`` in the shipped packs folder."""
    from cnclip_eval import __version__
    from cnclip_eval.prompts.pack import PACKS_DIR, GeneratorInfo, PackClass, make_pack, save_pack

    directory = directory or PACKS_DIR
    paths = []
    for language in ("zh", "en"):
        names = shapes.CLASSNAMES_ZH if language == "zh" else shapes.CLASSNAMES_EN
        generator = GeneratorInfo(
            kind="import",
            endpoint="hand-written",
            date="2026-11-23",
            tool=f"cnclip-eval {__version__}",
            source={"module": "cnclip_eval.demo.packs"},
        )
        classes = [
            PackClass(index, name, tuple(texts))
            for index, (name, texts) in enumerate(zip(names, descriptions(language)))
        ]
        notes = ["hand-written per form with a {c} slot for the class name; see cnclip_eval/demo/packs.py"]
        pack = make_pack("demo-shapes", language, generator, classes, notes)
        paths.append(save_pack(pack, directory / f"demo-shapes.{language}.json"))
    return paths


if __name__ == "__main__":
    for written in write_packs():
        print(written)
