"""Runtime benchmark: fbank (ours vs kaldi-native-fbank), encoder+CTC, search and overhead per second of audio.

Usage: python bench/runtime_bench.py [--fixtures DIR] [--repeat N] [--piece-ms MS] [--beam 1 10]
                                    [--model DIR ...] [--no-fixture-models] [--audio DIR] [--fidelity]
Prints one row per model and search, in ms per second of audio: "model" is the time inside the inference
engine (ONNX session / BPU runs), "overhead" everything else = fbank + search (incl. endpointing) + glue
(chunking, feeding, partial results every piece); overhead/model is the ratio the issue asks for, and
"w/o fbank" the same without the front end (which has its own target: at most 2x kaldi-native-fbank, and on
the tiny fixture models kaldi-native-fbank alone takes longer than the model).
Models: the project's own (models/default and its BPU form models/default/bpu, when present), the fixture
exports, and any --model directories.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.features.fbank import StreamingFbank  # noqa: E402
from runtime.recognizer import Recognizer  # noqa: E402

WAVS = ("zh_dakai_keting_de_deng", "en_turn_on_the_kitchen_light", "mix_en_zh_3p5s", "long_concat_12s")


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


def _knf_fbank(samples: np.ndarray):
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 80
    opts.energy_floor = 0.0
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, samples.astype(np.float32))
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def bench_fbank(audio: list[np.ndarray], repeat: int, piece: int) -> float:
    """Per second of audio: our streaming fbank vs kaldi-native-fbank (whole utterance).

    "ours" is fed as the recognizer feeds it: every piece pushed, frames pulled once a 64-frame encoder stride is
    ready; "ours, every piece" computes the frames of every piece as it arrives.
    """
    seconds = sum(len(a) for a in audio) / 16000
    batched, per_piece, theirs = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        for samples in audio:
            fbank = StreamingFbank()
            for i in range(0, len(samples), piece):
                fbank.push(samples[i:i + piece])
                if fbank.frames_ready >= 64:
                    fbank.pull()
            fbank.pull()
        batched.append(time.perf_counter() - start)
        start = time.perf_counter()
        for samples in audio:
            fbank = StreamingFbank()
            for i in range(0, len(samples), piece):
                fbank.accept(samples[i:i + piece])
        per_piece.append(time.perf_counter() - start)
        start = time.perf_counter()
        for samples in audio:
            _knf_fbank(samples)
        theirs.append(time.perf_counter() - start)
    o, p, k = (min(t) / seconds * 1000 for t in (batched, per_piece, theirs))
    print(f"fbank per s of audio: ours {o:.3f} ms (every piece {p:.3f}), kaldi-native-fbank {k:.3f} ms, "
          f"ratio {o / k:.2f}x")
    return k / 1000


def bench_model(model_dir: Path, label: str, audio: list[np.ndarray], repeat: int, piece: int, beam: int,
                knf_per_second: float, backend: str = "auto") -> None:
    """One row: per second of audio, total, engine (ONNX/BPU), search, overhead and overhead/model ratio."""
    recognizer = Recognizer(model_dir, backend=backend, beam_size=beam)
    model = recognizer.model
    seconds = sum(len(a) for a in audio) / 16000
    rows = []
    for _ in range(repeat + 1):  # the first round warms up the sessions
        engine_before = model.session_run_seconds
        search = fbank = 0.0
        start = time.perf_counter()
        for samples in audio:
            session = recognizer.create_session()
            for i in range(0, len(samples), piece):
                session.accept_waveform(samples[i:i + piece])
                session.partial_result()
                session.endpoint_detected()
            session.finalize()
            search += session.search_seconds
            fbank += session.feature_seconds
        total = time.perf_counter() - start
        rows.append((total, model.session_run_seconds - engine_before, search, fbank))
    total, engine, search, fbank = min(rows[1:], key=lambda r: r[0])
    overhead = total - engine
    glue = overhead - search - fbank
    print(
        f"{label:34s} beam {beam:2d}: total {total / seconds * 1000:7.2f} ms/s  model {engine / seconds * 1000:7.2f}"
        f"  fbank {fbank / seconds * 1000:5.2f}  search {search / seconds * 1000:5.2f}"
        f"  glue {glue / seconds * 1000:5.2f}"
        f"  overhead {overhead / seconds * 1000:5.2f}"
        f"  overhead/model {100 * overhead / engine:5.1f}% (w/o fbank {100 * (overhead - fbank) / engine:4.1f}%)"
        f"  RTF {total / seconds:.4f}  (kaldi-native-fbank alone: {100 * knf_per_second * seconds / engine:.0f}% of model)"
    )


def fidelity(exports: list[tuple[str, Path]], fixtures: Path, piece: int) -> None:
    """Max |log-prob difference| of the streamed WAVs vs WeNet's C++-fed references, per export."""
    from runtime.models.base import log_softmax

    print("fidelity (max abs log-prob difference, WAV -> our fbank -> model, vs ctc_logprobs_chunked_cppfeed.npy):")
    for name, model_dir in exports:
        recognizer = Recognizer(model_dir, beam_size=1)
        ref_dir = fixtures / ("bpu_conformer_sub8" if name.endswith("/bpu") else name) / "ref"
        worst, worst_bpu = 0.0, 0.0
        for wav in WAVS:
            samples = _read(fixtures / "audio" / f"{wav}.wav")
            session = recognizer.create_session()
            for i in range(0, len(samples), piece):
                session.accept_waveform(samples[i:i + piece])
            got = session.finalize().logprobs
            expected = np.load(ref_dir / wav / "ctc_logprobs_chunked_cppfeed.npy")
            if got.shape != expected.shape:
                raise SystemExit(f"{name} {wav}: {got.shape} frames, reference {expected.shape}")
            worst = max(worst, float(np.abs(got - expected).max()))
            if name.endswith("/bpu"):
                logits = np.load(fixtures / name / "ref" / wav / "ctc_logits_bpu.npy")
                full = len(got) // 8 * 8  # frames of the full chunks (a short last chunk keeps fewer than 8)
                worst_bpu = max(worst_bpu, float(np.abs(got[:full] - log_softmax(logits[:full])).max()))
        extra = f"; full chunks vs log_softmax(ctc_logits_bpu) {worst_bpu:.1e}" if name.endswith("/bpu") else ""
        print(f"  {name:34s} {worst:.1e}{extra}")


def main() -> None:
    """Parse arguments and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=ROOT.parent / "shared" / "fixtures" / "wenet")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--piece-ms", type=int, default=100, help="audio piece size fed per call (default 100 ms)")
    parser.add_argument("--beam", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--model", type=Path, nargs="*", default=[], help="extra model directories to measure")
    parser.add_argument("--no-fixture-models", action="store_true", help="skip the fixture models")
    parser.add_argument("--fidelity", action="store_true", help="also print log-prob differences vs the fixtures")
    parser.add_argument("--audio", type=Path, help="16 kHz mono WAVs to stream (default: the fixture WAVs)")
    args = parser.parse_args()
    if args.audio is not None:
        audio = [_read(path) for path in sorted(args.audio.glob("*.wav"))]
        if not audio:
            raise SystemExit(f"{args.audio}: no .wav files")
    else:
        audio = [_read(args.fixtures / "audio" / f"{name}.wav") for name in WAVS]
    piece = args.piece_ms * 16
    print(f"audio: {sum(len(a) for a in audio) / 16000:.2f} s in {len(audio)} files, fed in {args.piece_ms} ms pieces")
    knf_per_second = bench_fbank(audio, args.repeat, piece)
    with tempfile.TemporaryDirectory() as tmp:
        bpu = Path(tmp) / "bpu"
        bpu.mkdir()
        for name in ("encoder.onnx", "ctc.onnx"):
            shutil.copy(args.fixtures / "bpu_conformer_sub8" / "bpu" / name, bpu / name)
        shutil.copy(args.fixtures / "bpu_conformer_sub8" / "units.txt", bpu / "units.txt")
        if args.fidelity:
            unlimited = Path(tmp) / "left_chunks_-1"
            unlimited.mkdir()
            for name in ("encoder.onnx", "ctc.onnx"):
                shutil.copy(args.fixtures / "u2pp_conformer" / "left_chunks_-1" / name, unlimited / name)
            shutil.copy(args.fixtures / "u2pp_conformer" / "units.txt", unlimited / "units.txt")
            names = ("u2pp_conformer", "transformer_sub8", "bpu_conformer_sub8")
            exports = [(n, args.fixtures / n) for n in names]
            exports += [("u2pp_conformer/left_chunks_-1", unlimited), ("bpu_conformer_sub8/bpu", bpu)]
            fidelity(exports, args.fixtures, piece)
        models = []
        own = ROOT / "models" / "default"
        for model_dir, label in ((own, "models/default CPU"), (own / "bpu", "models/default BPU-form ORT")):
            if (model_dir / "encoder.onnx").is_file():
                models.append((model_dir, label))
            else:
                print(f"({model_dir} not found: skipped)")
        models += [(path, str(path)[-34:]) for path in args.model]
        if not args.no_fixture_models:
            models += [
                (args.fixtures / "u2pp_conformer", "u2pp_conformer (C16 L16, s4)"),
                (args.fixtures / "transformer_sub8", "transformer_sub8 (C8 L16, s8)"),
                (args.fixtures / "bpu_conformer_sub8", "bpu_conformer_sub8 CPU (C8 L16)"),
                (bpu, "bpu_conformer_sub8 BPU-form ORT"),
            ]
        for beam in args.beam:
            for model_dir, label in models:
                bench_model(model_dir, label, audio, args.repeat, piece, beam, knf_per_second)


if __name__ == "__main__":
    main()
