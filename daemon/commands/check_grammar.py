"""Check grammar files: syntax, unknown lists/rules, ambiguity, and (with --model) words the model cannot spell."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from daemon.errors import ModelError

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``voicecmd check-grammar``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="grammar files or directories (all *.yaml)")
    parser.add_argument("--model", metavar="DIR", help="also report every word this model cannot spell")
    parser.add_argument("--no-ambiguity", action="store_true", help="skip the ambiguity search")


def run(args: argparse.Namespace) -> int:
    """Print one ``file:line:column: message`` per problem; exit 1 when there is an error, else 0."""
    from daemon.grammar.check import check_grammar, unspellable_word_problems

    grammar, problems = check_grammar(args.paths, ambiguity=not args.no_ambiguity)
    if args.model and not grammar.errors:
        encode_word = _model_speller(Path(args.model))
        problems.extend(unspellable_word_problems(grammar.word_graph(), encode_word))
    for problem in problems:
        print(problem)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        return 1
    graph = grammar.word_graph()
    intents = len(grammar.intents)
    print(f"ok: {len(grammar.files)} files, {intents} intents, {graph.num_states} states, {graph.num_arcs} arcs")
    return 0


def _model_speller(model_dir: Path):
    """``encode_word`` of the model's tokenizer (units.txt and, if present, its BPE model)."""
    from runtime.errors import SpeechRuntimeError
    from runtime.tokenizer import ModelTokenizer
    from runtime.units import UnitTable

    from runtime.whisper.model import is_whisper_model_dir

    if is_whisper_model_dir(model_dir):
        # A byte-level BPE model writes any word; what it cannot do is a language it was not trained on.
        return _whisper_speller(model_dir)
    units_file = model_dir / "units.txt"
    if not units_file.is_file():
        raise ModelError(f"{model_dir}: no units.txt; --model needs a model directory")
    try:
        tokenizer = ModelTokenizer.for_model_dir(model_dir, UnitTable.from_file(units_file))
    except SpeechRuntimeError as exc:
        raise ModelError(f"{model_dir}: {exc}") from exc
    return tokenizer.encode_word


def _whisper_speller(model_dir: Path):
    """``encode_word`` of a Whisper model: the word's bytes (any word can be written)."""
    from runtime.errors import SpeechRuntimeError
    from runtime.whisper.tokens import WhisperVocabulary

    try:
        WhisperVocabulary.from_file(model_dir / "vocabulary.txt")
    except SpeechRuntimeError as exc:
        raise ModelError(f"{model_dir}: {exc}") from exc
    return lambda word: word.encode("utf-8")
