"""Recognize commands in WAV files with a grammar: one JSON line per file (intent, slots, confidence, margin)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from daemon.errors import ConfigError
from daemon.paths import default_model_dir

_LOGGER = logging.getLogger(__name__)

# Audio is fed in chunks of this many samples (100 ms), as the microphone pipeline does.
_FEED_SAMPLES = 1600


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("wavs", nargs="*", metavar="WAV", help="16 kHz mono 16-bit WAV files")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument(
        "--grammar",
        type=Path,
        nargs="+",
        action="extend",
        required=True,
        metavar="PATH",
        help="grammar files or directories (repeatable; *.wav arguments after it are taken as audio)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="reject below this per-frame score margin (default: the measured default; 0 accepts only exact fits)",
    )
    parser.add_argument(
        "--backend", default="auto", choices=("auto", "onnx", "bpu-onnx", "bpu"), help="model backend (default auto)"
    )


def run(args: argparse.Namespace) -> int:
    """Decode every WAV with the grammar and print one JSON object per line."""
    from daemon.audio.wavfile import read_wav_int16
    from daemon.grammar import load_grammar
    from daemon.grammar.decode import DEFAULT_REJECT_THRESHOLD, GrammarDecoder
    from runtime.recognizer import Recognizer
    from runtime.tokenizer import ModelTokenizer

    grammar_paths, wavs = _split_wavs(args.grammar, args.wavs)
    threshold = DEFAULT_REJECT_THRESHOLD if args.threshold is None else args.threshold
    if not -100.0 <= threshold <= 0.0:
        raise ConfigError(f"--threshold {threshold}: must be between -100 and 0 (a per-frame log-likelihood margin)")
    model_dir = args.model if args.model is not None else default_model_dir()
    recognizer = Recognizer(model_dir, backend=args.backend)
    grammar = load_grammar(grammar_paths)
    tokenizer = ModelTokenizer.for_model_dir(model_dir, recognizer.units)
    decoder = GrammarDecoder(grammar, tokenizer, reject_threshold=threshold)
    session = recognizer.create_session()
    for wav in wavs:
        samples = read_wav_int16(wav)
        session.reset()
        for begin in range(0, len(samples), _FEED_SAMPLES):
            session.accept_waveform(samples[begin : begin + _FEED_SAMPLES])
        final = session.finalize()
        result = decoder.decode(final.logprobs, final.frame_shift_ms)
        line = {"file": str(wav), **result.to_json_dict()}
        print(json.dumps(line, ensure_ascii=False), flush=True)
    sys.stdout.flush()
    return 0


def _split_wavs(grammar_args: list[Path], wav_args: list[str]) -> tuple[list[Path], list[str]]:
    """``--grammar a.yaml x.wav`` puts the WAVs into the grammar list (nargs="+"); move them back."""
    grammar_paths = [p for p in grammar_args if p.suffix.lower() != ".wav"]
    wavs = [str(p) for p in grammar_args if p.suffix.lower() == ".wav"] + list(wav_args)
    if not grammar_paths:
        raise ConfigError("--grammar: give at least one grammar file or directory")
    if not wavs:
        raise ConfigError("no WAV files given: voicecmd recognize --grammar PATH... WAV...")
    return grammar_paths, wavs
