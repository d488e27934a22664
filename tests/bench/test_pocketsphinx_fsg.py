"""The FSG pocketsphinx gets (bench/accuracy.py fsg_of): the minimal automaton accepts the same word strings as the
grammar's raw word graph, asked of pocketsphinx's own FSG reader, and is far smaller; the decoder takes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pocketsphinx import Decoder

from bench.accuracy import Pocketsphinx, fsg_of
from daemon.audio.audiofile import read_audio
from daemon.grammar import load_grammar
from daemon.grammar.sampler import sample_sentences

REPO = Path(__file__).resolve().parents[2]
COFFEE = REPO.parent / "shared" / "data" / "real-speech-dev" / "coffee"
GRAMMARS = {"shipped en": [REPO / "grammars" / "en"], "coffee": [COFFEE / "coffee_en.yaml"]}


def counts(fsg: str) -> tuple[int, int, int]:
    """(states, transitions, null transitions) of an FSG text."""
    lines = fsg.splitlines()
    states = int(lines[1].split()[1])
    arcs = [line.split() for line in lines if line.startswith("TRANSITION ")]
    return states, len(arcs), sum(len(arc) == 4 for arc in arcs)


@pytest.fixture(scope="module", params=sorted(GRAMMARS))
def fsgs(request, tmp_path_factory):
    """(grammar, raw FSG text, minimal FSG text, pocketsphinx's reading of each)."""
    grammar = load_grammar(GRAMMARS[request.param])
    raw, small = fsg_of(grammar, minimize=False), fsg_of(grammar)
    work = tmp_path_factory.mktemp("fsg")
    decoder = Decoder(lm=None, loglevel="FATAL")
    read = []
    for name, text in (("raw", raw), ("small", small)):
        (work / f"{name}.fsg").write_text(text)
        read.append(decoder.read_fsg(str(work / f"{name}.fsg")))
    return grammar, raw, small, *read


def non_sentences(words: list[str], vocabulary: list[str]) -> list[list[str]]:
    """Near misses of a sentence: a word dropped, doubled, swapped or replaced, the order reversed."""
    return [words[:-1], words[1:], words + words[-1:], words[::-1], words[:1] + words[2:],
            words[1:2] + words[:1] + words[2:], words[:-1] + [vocabulary[len(words) % len(vocabulary)]]]


def test_the_minimal_fsg_accepts_the_grammars_sentences_and_what_the_raw_graph_accepts(fsgs):
    grammar, _, _, raw, small = fsgs
    sentences = [s.text for s in sample_sentences(grammar, 300, seed=3)]
    assert all(small.accept(text) for text in sentences), [t for t in sentences if not small.accept(t)][:3]
    vocabulary = sorted(grammar.word_graph().vocabulary())
    near = [" ".join(words) for text in sentences for words in non_sentences(text.split(), vocabulary)]
    differ = [text for text in near if small.accept(text) != raw.accept(text)]
    assert not differ, differ[:3]
    rejected = [text for text in near if not raw.accept(text)]
    assert len(rejected) > len(near) / 2  # the near misses really test rejection
    assert not small.accept("") and not small.accept("please please please")


def test_the_minimal_fsg_is_far_smaller(fsgs):
    grammar, raw, small, _, _ = fsgs
    graph = grammar.word_graph()
    assert counts(raw)[:2] == (graph.num_states, graph.num_arcs)
    states, arcs, null = counts(small)
    assert states * 10 < graph.num_states and arcs * 3 < graph.num_arcs
    assert null < 20  # only the joins of final states to the one FSG final state


def test_the_minimal_fsg_is_the_same_text_under_any_string_hashing():
    """pyformlang's state order follows Python's string hashing; the states written must not (results are cached
    under the FSG's hash)."""
    script = "import sys; from bench.accuracy import fsg_of; from daemon.grammar import load_grammar; " \
             "sys.stdout.write(fsg_of(load_grammar(['grammars/en'])))"
    texts = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO,
                            env=dict(os.environ, PYTHONHASHSEED=seed)).stdout for seed in ("1", "2")}
    assert texts == {fsg_of(load_grammar(GRAMMARS["shipped en"]))}


def test_pocketsphinx_decodes_a_real_coffee_order_on_the_minimal_fsg(tmp_path):
    grammar = load_grammar(GRAMMARS["coffee"])
    engine = Pocketsphinx(grammar, tmp_path)
    samples = read_audio(COFFEE / "clean" / "00e09cf0-a01d-453e-9b89-dc6e6d31d362.flac")
    result = engine.run(np.asarray(samples, np.int16))
    assert result["free"] == "can i get a triple shot light roast iced coffee"
    assert result["intent"] == "orderDrink" and result["fits"]


def test_the_shipped_english_grammar_loads_into_pocketsphinx(tmp_path):
    engine = Pocketsphinx(load_grammar(GRAMMARS["shipped en"]), tmp_path)
    assert engine.decoder.lookup_word("unmute") is not None
    assert engine.run(np.zeros(16000, np.int16))["intent"] is None
