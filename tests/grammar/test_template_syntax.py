"""Every template syntax element: alternatives, optionals, lists, rules, in-word alternatives, permutations."""

from __future__ import annotations

import pytest

from tests.grammar.helpers import grammar_from, one_intent


def _parse(tmp_path, sentences, text, lists="", language="en", extra=""):
    grammar = grammar_from(tmp_path, one_intent(sentences, lists, language, extra))
    return grammar.parse(text)


@pytest.mark.parametrize("text", ["turn on the light", "switch on the light"])
def test_alternative(tmp_path, text):
    assert _parse(tmp_path, ["(turn|switch) on the light"], text).intent == "Test"


def test_alternative_rejects_other_words(tmp_path):
    assert _parse(tmp_path, ["(turn|switch) on the light"], "flip on the light") is None


@pytest.mark.parametrize("text,ok", [("turn on light", True), ("turn on the light", True), ("turn on a light", False)])
def test_optional(tmp_path, text, ok):
    assert (_parse(tmp_path, ["turn on [the] light"], text) is not None) is ok


def test_optional_with_alternatives(tmp_path):
    for text in ["turn on light", "turn on the light", "turn on my light"]:
        assert _parse(tmp_path, ["turn on [the|my] light"], text) is not None


def test_nested_groups(tmp_path):
    sentences = ["(turn (on|off)|switch [it] on) [the [big]] light"]
    for text in ["turn off the big light", "switch it on light", "switch on the light"]:
        assert _parse(tmp_path, sentences, text) is not None
    assert _parse(tmp_path, sentences, "switch off light") is None


@pytest.mark.parametrize("text,ok", [("turn on the light", True), ("turn on the lights", True), ("turn on the lightss", False)])
def test_in_word_optional(tmp_path, text, ok):
    assert (_parse(tmp_path, ["turn on the light[s]"], text) is not None) is ok


@pytest.mark.parametrize("text", ["it turns on", "it turned on", "it turning on"])
def test_in_word_alternative(tmp_path, text):
    assert _parse(tmp_path, ["it turn(s|ed|ing) on"], text) is not None


def test_list_slot_in_out(tmp_path):
    lists = """
    room:
      values:
        - in: living room
          out: living_room
        - kitchen
    """
    match = _parse(tmp_path, ["turn on the {room} light"], "turn on the living room light", lists)
    assert match.slots == {"room": "living_room"}
    assert match.raw_slots == {"room": "living room"}
    assert _parse(tmp_path, ["turn on the {room} light"], "turn on the kitchen light", lists).slots == {"room": "kitchen"}


def test_list_with_other_slot_name(tmp_path):
    lists = """
    room:
      values: [kitchen, bedroom]
    """
    match = _parse(tmp_path, ["move from {room:source} to {room:target}"], "move from kitchen to bedroom", lists)
    assert match.slots == {"source": "kitchen", "target": "bedroom"}


def test_list_value_in_is_a_template(tmp_path):
    lists = """
    room:
      values:
        - in: (bed room|bedroom|master bedroom)
          out: bedroom
    """
    for text in ["light in bed room", "light in bedroom", "light in master bedroom"]:
        assert _parse(tmp_path, ["light in {room}"], text, lists).slots == {"room": "bedroom"}


def test_list_value_template_without_out_gives_spoken_text(tmp_path):
    lists = """
    thing:
      values:
        - in: (red|blue) ball
    """
    assert _parse(tmp_path, ["throw the {thing}"], "throw the blue ball", lists).slots == {"thing": "blue ball"}


def test_out_may_be_a_number(tmp_path):
    lists = """
    level:
      values:
        - in: max
          out: 100
    """
    assert _parse(tmp_path, ["set to {level}"], "set to max", lists).slots == {"level": 100}


def test_range_slot_is_a_number(tmp_path):
    lists = """
    level:
      range: {from: 0, to: 100}
    """
    match = _parse(tmp_path, ["set to {level}"], "set to twenty two", lists)
    assert match.slots == {"level": 22} and isinstance(match.slots["level"], int)
    assert _parse(tmp_path, ["set to {level}"], "set to 22", lists).slots == {"level": 22}


def test_range_step_and_multiplier(tmp_path):
    lists = """
    level:
      range: {from: 10, to: 50, step: 10, multiplier: 0.5}
    """
    assert _parse(tmp_path, ["set to {level}"], "set to thirty", lists).slots == {"level": 15}
    assert _parse(tmp_path, ["set to {level}"], "set to thirty five", lists) is None


def test_range_fractions_halves(tmp_path):
    lists = """
    temp:
      range: {from: 20, to: 22, fractions: halves, type: temperature}
    """
    assert _parse(tmp_path, ["set to {temp}"], "set to twenty point five", lists).slots == {"temp": 20.5}
    assert _parse(tmp_path, ["set to {temp}"], "set to 21.5", lists).slots == {"temp": 21.5}


def test_expansion_rule_global_and_local(tmp_path):
    text = """
    language: en
    intents:
      Test:
        data:
          - sentences: ["<on> the <thing>"]
            expansion_rules:
              thing: "(lamp|light)"
    expansion_rules:
      on: "(turn|switch) on"
      thing: "door"
    """
    grammar = grammar_from(tmp_path, text)
    assert grammar.parse("switch on the lamp").intent == "Test"
    assert grammar.parse("turn on the door") is None  # the local rule wins


def test_rule_inside_rule(tmp_path):
    extra = """
    expansion_rules:
      a: "<b> light"
      b: "(big|small)"
    """
    assert _parse(tmp_path, ["<a>"], "small light", extra=extra) is not None


def test_permutation(tmp_path):
    for text in ["red light kitchen", "kitchen red light"]:
        assert _parse(tmp_path, ["(red light; kitchen)"], text) is not None
    assert _parse(tmp_path, ["(red light; kitchen)"], "light red kitchen") is None


def test_data_block_fixed_slots(tmp_path):
    text = """
    language: en
    intents:
      Scene:
        data:
          - sentences: ["good night"]
            slots: {scene: sleep, level: 3}
    """
    assert grammar_from(tmp_path, text).parse("good night").slots == {"scene": "sleep", "level": 3}


def test_skip_words(tmp_path):
    grammar = grammar_from(tmp_path, one_intent(["turn on the light"], extra='skip_words: ["please", "could you"]'))
    assert grammar.parse("please turn on the light") is not None
    assert grammar.parse("could you turn on the light please") is not None
    assert grammar.parse("turn on please the light") is not None  # hassil drops skip words anywhere


def test_context_metadata_and_unknown_data_keys_load(tmp_path):
    text = """
    language: en
    intents:
      Test:
        data:
          - sentences: ["lights on"]
            requires_context: {area: {slot: true}}
            excludes_context: {domain: cover}
            metadata: {origin: test}
            response: default
    """
    grammar = grammar_from(tmp_path, text)
    assert grammar.parse("lights on") is None  # nothing supplies the required area context


def test_requires_context_from_list_value(tmp_path):
    text = """
    language: en
    intents:
      TurnOn:
        data:
          - sentences: ["turn on {name}"]
            requires_context: {domain: light}
    lists:
      name:
        values:
          - in: lamp
            out: light.lamp
            context: {domain: light}
          - in: fan
            out: fan.ceiling
            context: {domain: fan}
    """
    grammar = grammar_from(tmp_path, text)
    assert grammar.parse("turn on lamp").slots == {"name": "light.lamp"}
    assert grammar.parse("turn on fan") is None


def test_wildcard_list_in_text_parser(tmp_path):
    text = """
    language: en
    intents:
      AddItem:
        data:
          - sentences: ["add {item} to my list"]
    lists:
      item: {wildcard: true}
    """
    grammar = grammar_from(tmp_path, text)
    assert grammar.parse("add green apples to my list").slots == {"item": "green apples"}
    assert grammar.word_graph().vocabulary().isdisjoint({"\x00*"})


def test_chinese_ignores_whitespace(tmp_path):
    grammar = grammar_from(tmp_path, one_intent(["打开 [客厅的] 灯"], language="zh-cn",
                                                extra="settings:\n  ignore_whitespace: true"))
    for text in ["打开客厅的灯", "打开 客厅 的 灯", "打 开灯。"]:
        assert grammar.parse(text) is not None, text


def test_english_case_and_punctuation(tmp_path):
    grammar = grammar_from(tmp_path, one_intent(["what's the time"]))
    assert grammar.parse("What's the TIME?!") is not None
    assert grammar.parse("what’s, the time") is not None


def test_several_files_merge(tmp_path):
    (tmp_path / "g").mkdir()
    grammar_dir = tmp_path / "g"
    (grammar_dir / "a.yaml").write_text(
        "language: en\nintents:\n  A:\n    data:\n      - sentences: ['{x} one']\n", encoding="utf-8")
    (grammar_dir / "b.yaml").write_text(
        "language: en\nintents:\n  A:\n    data:\n      - sentences: ['{x} two']\nlists:\n  x:\n    values: [go]\n",
        encoding="utf-8")
    from daemon.grammar import load_grammar

    grammar = load_grammar([grammar_dir])
    assert grammar.parse("go one").intent == "A" and grammar.parse("go two").intent == "A"


def test_zh_and_en_merge_keep_their_own_lists(repo_root):
    from daemon.grammar import load_grammar

    grammar = load_grammar([repo_root / "grammars" / "zh", repo_root / "grammars" / "en"])
    assert grammar.parse("打开客厅的灯").slots == {"area": "living_room", "device": "light", "domain": "light"}
    assert grammar.parse("turn on the kitchen lights").slots == {"area": "kitchen", "device": "light", "domain": "light"}


def test_home_assistant_fixture_files_give_area_and_name_lists(tmp_path):
    (tmp_path / "_fixtures.yaml").write_text(
        "language: en\nareas:\n  - name: Kitchen\n    id: kitchen\nentities:\n"
        "  - name: Ceiling Light\n    id: light.ceiling\n    area: kitchen\n"
        "  - name: Front Door\n    id: lock.front\n", encoding="utf-8")
    (tmp_path / "intents.yaml").write_text(
        "language: en\nintents:\n  HassTurnOn:\n    data:\n      - sentences: ['turn on [the] {name}']\n"
        "        requires_context: {domain: light}\n      - sentences: ['lights on in [the] {area}']\n",
        encoding="utf-8")
    (tmp_path / "tests.yaml").write_text("language: en\ntests:\n  - sentences: [x]\n", encoding="utf-8")
    from daemon.grammar import load_grammar

    grammar = load_grammar([tmp_path])  # the test file is skipped with a warning
    assert grammar.parse("turn on the ceiling light").slots == {"name": "light.ceiling"}
    assert grammar.parse("turn on the front door") is None  # context domain lock, not light
    assert grammar.parse("lights on in the kitchen").slots == {"area": "kitchen"}
    assert any("sentence test file" in str(p) for p in grammar.problems)


def test_parse_from_several_threads(repo_root):
    import threading

    from daemon.grammar import load_grammar, sample_sentences

    grammar = load_grammar(repo_root / "grammars" / "zh")
    sentences = sample_sentences(grammar, 400, seed=9)
    failures: list = []

    def work(part):
        for sentence in part:
            match = grammar.parse(sentence.text)
            if match is None or (match.intent, match.slots) != (sentence.intent, sentence.slots):
                failures.append(sentence)

    threads = [threading.Thread(target=work, args=(sentences[i::4],), name=f"parse-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_parser_cache_starts_over_when_full(repo_root, monkeypatch):
    from daemon.grammar import load_grammar, sample_sentences
    from daemon.grammar import matcher

    monkeypatch.setattr(matcher, "_MAX_DFA_STATES", 20)
    grammar = load_grammar(repo_root / "grammars" / "en")
    for sentence in sample_sentences(grammar, 200, seed=10):
        match = grammar.parse(sentence.text)
        assert (match.intent, match.slots) == (sentence.intent, sentence.slots)
    assert len(grammar._matcher._dfa.members) < 200


def test_required_keywords_as_hassil_checks_them(tmp_path):
    text = """
    language: en
    intents:
      Music:
        data:
          - sentences: ["play {thing}"]
            required_keywords: [music, song]
      Other:
        data:
          - sentences: ["play {thing}"]
    lists:
      thing:
        values: [music, song, game]
    """
    grammar = grammar_from(tmp_path, text)
    assert grammar.parse("play music").intent == "Music"
    assert grammar.parse("play game").intent == "Other"  # no keyword: the first block is not tried
