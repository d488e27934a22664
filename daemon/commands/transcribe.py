"""Transcribe WAV files with the streaming recognizer (free text, no grammar); optionally dump CTC log-probs."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

# Audio is fed in pieces of this many samples, as a live stream would arrive (results do not depend on it).
_PIECE_SAMPLES = 16000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``transcribe`` options."""
    from runtime.models.loader import BACKENDS

    parser.add_argument("wavs", nargs="+", metavar="WAV", help="16 kHz mono 16-bit WAV files")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="inference backend (default: auto)")
    parser.add_argument(
        "--beam-size", type=int, default=1, help="CTC prefix beam size; 1 = greedy search, WeNet's ctc_greedy_search (default: 1)"
    )
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default: 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")
    parser.add_argument(
        "--dump-logprobs", type=Path, metavar="OUTDIR", help="write OUTDIR/<wav stem>.npy: (T, V) float32 CTC log-probs"
    )


def run(args: argparse.Namespace) -> int:
    """Transcribe every WAV in order; errors propagate as one-line voicecmd errors."""
    from daemon.audio.wavfile import read_wav_int16
    from daemon.errors import ConfigError
    from daemon.paths import default_model_dir
    from runtime.recognizer import open_recognizer

    import numpy as np

    if args.beam_size < 1:
        raise ConfigError(f"--beam-size must be >= 1, got {args.beam_size}")
    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    model_dir = args.model if args.model is not None else default_model_dir(args.backend)
    recognizer = open_recognizer(model_dir, backend=args.backend, beam_size=args.beam_size, num_threads=args.threads)
    if args.dump_logprobs is not None and getattr(recognizer, "kind", "") == "whisper":
        raise ConfigError(f"--dump-logprobs: {model_dir} is a Whisper model (encoder-decoder): it has no CTC log-probs")
    if args.dump_logprobs is not None:
        try:
            args.dump_logprobs.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--dump-logprobs {args.dump_logprobs}: cannot create directory ({exc.strerror})") from None
    session = recognizer.create_session()
    for wav in args.wavs:
        samples = read_wav_int16(wav)
        session.reset()
        for start in range(0, len(samples), _PIECE_SAMPLES):
            session.accept_waveform(samples[start:start + _PIECE_SAMPLES])
        result = session.finalize()
        if args.dump_logprobs is not None:
            np.save(args.dump_logprobs / f"{Path(wav).stem}.npy", result.logprobs.astype(np.float32))
        if args.json:
            record = {
                "file": str(wav),
                "text": result.text,
                "token_ids": list(result.token_ids),
                "timestamps_ms": list(getattr(result, "timestamps_ms", ())),
                "confidence": round(result.confidence, 4),
            }
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            print(f"{wav}\t{result.text}", flush=True)
    sys.stdout.flush()
    return 0
