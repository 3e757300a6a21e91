"""`prompts check --strict`: the rules a shipped description pack must follow, checked in code."""

from __future__ import annotations

from cnclip_eval.prompts.pack import GeneratorInfo, PackClass, make_pack, save_pack
from cnclip_eval.prompts.quality import quality_problems

GENERATOR = GeneratorInfo("llm", "agent-session", "2026-11-23", "test", llm_model="test")


def pack_of(descriptions: dict[str, list[str]], language: str = "zh"):
    classes = [PackClass(i, name, tuple(texts)) for i, (name, texts) in enumerate(descriptions.items())]
    return make_pack("shapes", language, GENERATOR, classes)


GOOD = {
    "红色的圆形": [
        f"红色的圆形{suffix}"
        for suffix in ("边缘光滑", "像一枚红色硬币", "在白底上很醒目", "没有棱角", "颜色鲜红")
    ],
    "蓝色的方块": [
        f"蓝色的方块{suffix}" for suffix in ("四条边等长", "有四个直角", "颜色深蓝", "像一块瓷砖", "边缘笔直")
    ],
}


def test_a_good_pack_has_no_problems():
    assert quality_problems(pack_of(GOOD)) == {}


def test_each_rule_is_enforced():
    bad = {
        "红色的圆形": ["一个圆", "红色的圆形" + "很" * 40, "红色的圆形看起来像 apple", "红色的圆形边缘光滑"],
        "蓝色的方块": ["红色的圆形边缘光滑", *GOOD["蓝色的方块"]],
    }
    problems = quality_problems(pack_of(bad))
    assert problems["fewer than 5 descriptions"] == {0: ["4 descriptions"]}
    assert problems["does not name the class"] == {0: ["一个圆"], 1: ["红色的圆形边缘光滑"]}
    assert list(problems["longer than 40 characters"]) == [0]
    assert problems["English words in a Chinese pack"] == {0: ["红色的圆形看起来像 apple"]}
    assert set(problems["shared with another class"]) == {0, 1}


def test_latin_letters_of_the_name_itself_are_fine():
    names = {
        "CRJ-200支线客机": [
            f"CRJ-200支线客机{s}"
            for s in ("机身细长", "尾翼呈T形", "两台发动机在尾部", "舷窗很小", "白色涂装")
        ]
    }
    assert quality_problems(pack_of(names)) == {}


def test_english_names_match_case_insensitively():
    names = {
        "Red Circle": [
            f"A red circle {s}." for s in ("with smooth edges", "on white", "like a coin", "bright", "round")
        ]
    }
    assert quality_problems(pack_of(names, "en")) == {}


def test_strict_check_fails_the_cli(run_cli, tmp_path):
    path = save_pack(pack_of({"红色的圆形": ["一个圆"] * 1}), tmp_path / "shapes.zh.json")
    assert run_cli("prompts", "check", path, "--no-tokens")[0] == 0
    code, out, _ = run_cli("prompts", "check", path, "--no-tokens", "--strict")
    assert code == 1
    assert "does not name the class" in out and "fewer than 5" in out


def test_naming_another_class_is_a_problem():
    from cnclip_eval.prompts.quality import other_classes_named

    names = {"猫", "波斯猫", "冰淇淋", "苹果派", "737-300", "737-500", "car", "bus", "Red Circle"}
    assert other_classes_named("苹果派旁边配一球冰淇淋", "苹果派", names, "zh") == ["冰淇淋"]
    assert other_classes_named("波斯猫的长毛蓬松", "波斯猫", names, "zh") == []  # 猫 is inside its own name
    assert other_classes_named("猫不像波斯猫那样长毛", "猫", names, "zh") == ["波斯猫"]
    assert other_classes_named("737-300 is shorter than a 737-500", "737-300", names, "en") == ["737-500"]
    assert other_classes_named("A car is smaller than a BUS", "car", names, "en") == ["bus"]
    assert (
        other_classes_named("A car with a bushy tail and a scar", "car", names, "en") == []
    )  # whole words only

    pack = pack_of(
        {
            **GOOD,
            "绿色的星形": [
                f"绿色的星形{s}" for s in ("有五个尖角", "颜色翠绿", "不像红色的圆形", "像海星", "很亮")
            ],
        }
    )
    assert quality_problems(pack) == {"names another class": {2: ["绿色的星形不像红色的圆形"]}}
