"""Pick the grammar decoder for a loaded recognizer: CTC log-probs (WeNet) or the Whisper decoder."""

from __future__ import annotations

from typing import Any, Optional


def make_grammar_decoder(grammar: Any, recognizer: Any, reject_threshold: Optional[float] = None) -> Any:
    """A decoder with ``decode_result(recognition result) -> GrammarResult`` for this recognizer's model."""
    kwargs = {} if reject_threshold is None else {"reject_threshold": reject_threshold}
    if getattr(recognizer, "kind", "") == "whisper":
        from daemon.grammar.whisper_decode import WhisperGrammarDecoder

        return WhisperGrammarDecoder(grammar, recognizer.model, **kwargs)
    from daemon.grammar.decode import GrammarDecoder
    from runtime.tokenizer import ModelTokenizer

    tokenizer = ModelTokenizer.for_model_dir(recognizer.model_dir, recognizer.units)
    return GrammarDecoder(grammar, tokenizer, **kwargs)


def default_reject_threshold(recognizer: Any) -> float:
    """The model kind's default rejection threshold."""
    if getattr(recognizer, "kind", "") == "whisper":
        from daemon.grammar.whisper_decode import DEFAULT_WHISPER_THRESHOLD

        return DEFAULT_WHISPER_THRESHOLD
    from daemon.grammar.decode import DEFAULT_REJECT_THRESHOLD

    return DEFAULT_REJECT_THRESHOLD
