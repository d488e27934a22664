"""Recognize commands in audio files with a grammar: one JSON line per file (intent, slots, confidence, margin)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from daemon.errors import AudioSourceError, ConfigError
from daemon.paths import default_model_dir

_LOGGER = logging.getLogger(__name__)

# Audio is fed in chunks of this many samples (100 ms), as the microphone pipeline does.
_FEED_SAMPLES = 1600


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's options."""
    parser.add_argument("wavs", nargs="*", metavar="AUDIO",
                        help="audio files: WAV (8/16/24/32-bit, float), FLAC, Ogg, MP3, ...; any rate and channels")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument(
        "--grammar",
        type=Path,
        nargs="+",
        action="extend",
        required=True,
        metavar="PATH",
        help="grammar files or directories (repeatable; audio files after it (*.wav, *.flac, ...) are taken as audio)",
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
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default 2)")


def run(args: argparse.Namespace) -> int:
    """Decode every audio file with the grammar and print one JSON object per line.

    A file that cannot be read is reported on stderr and skipped; the exit code is then non-zero."""
    from daemon.audio.audiofile import read_audio
    from daemon.grammar import load_grammar
    from daemon.grammar.decoders import make_grammar_decoder
    from runtime.recognizer import open_recognizer

    grammar_paths, wavs = _split_wavs(args.grammar, args.wavs)
    threshold = args.threshold
    if threshold is not None and not -100.0 <= threshold <= 0.0:
        raise ConfigError(f"--threshold {threshold}: must be between -100 and 0 (a log-likelihood margin)")
    model_dir = args.model if args.model is not None else default_model_dir(args.backend)
    recognizer = open_recognizer(model_dir, backend=args.backend, num_threads=args.threads)
    grammar = load_grammar(grammar_paths)
    decoder = make_grammar_decoder(grammar, recognizer, threshold)
    session = recognizer.create_session()
    failed = 0
    for wav in wavs:
        try:
            samples = read_audio(wav)
        except AudioSourceError as exc:
            print(f"voicecmd: error: {exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        session.reset()
        for begin in range(0, len(samples), _FEED_SAMPLES):
            session.accept_waveform(samples[begin : begin + _FEED_SAMPLES])
        result = decoder.decode_result(session.finalize())
        line = {"file": str(wav), **result.to_json_dict()}
        print(json.dumps(line, ensure_ascii=False), flush=True)
    sys.stdout.flush()
    if failed:
        if len(wavs) > 1:
            print(f"voicecmd: error: {failed} of {len(wavs)} audio files could not be read", file=sys.stderr)
        return AudioSourceError.exit_code
    return 0


def _split_wavs(grammar_args: list[Path], wav_args: list[str]) -> tuple[list[Path], list[str]]:
    """``--grammar a.yaml x.wav`` puts the audio files into the grammar list (nargs="+"); move them back."""
    from daemon.audio.audiofile import is_audio_path

    grammar_paths = [p for p in grammar_args if not is_audio_path(p)]
    wavs = [str(p) for p in grammar_args if is_audio_path(p)] + list(wav_args)
    if not grammar_paths:
        raise ConfigError("--grammar: give at least one grammar file or directory")
    if not wavs:
        raise ConfigError("no audio files given: voicecmd recognize --grammar PATH... AUDIO...")
    return grammar_paths, wavs
