"""Command grammars in hassil syntax: loading, checking, text parsing, word graph and sentence sampling."""

from __future__ import annotations

from daemon.grammar.grammar import Grammar, IntentMatch, load_grammar
from daemon.grammar.graph import Arc, WordGraph
from daemon.grammar.sampler import SampledSentence, sample_sentences

__all__ = ["Arc", "Grammar", "IntentMatch", "SampledSentence", "WordGraph", "load_grammar", "sample_sentences"]
