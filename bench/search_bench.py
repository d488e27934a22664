"""Grammar search benchmark: compile time/size, constrained decoding time, and rejection-threshold calibration.

    python bench/search_bench.py                         # compile + decode figures (models/default if present)
    python bench/search_bench.py --model DIR             # ... with that model's units
    python bench/search_bench.py --calibrate --lang en   # margins of in- vs out-of-grammar TTS speech
    python bench/search_bench.py --calibrate --lang zh --corpus /work/corpus --count 150   # M's held-out corpus
    python bench/search_bench.py --calibrate --lang both --corpus /work/corpus --count 150  # + the confidence fit
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from daemon.commands.bench import missing_programs, program_install_hint  # noqa: E402
from daemon.grammar import load_grammar, sample_sentences  # noqa: E402
from daemon.grammar.token_compiler import compile_token_graph, graph_summary  # noqa: E402
from runtime.decoding.constrained import SearchIndex, constrained_search  # noqa: E402
from runtime.tokenizer import ModelTokenizer  # noqa: E402
from runtime.units import UnitTable  # noqa: E402

MILLION_GRAMMAR_FILE = Path(__file__).resolve().parent / "data" / "million_sentences_zh.yaml"


def vocabulary_units(grammar) -> UnitTable:
    """A unit table that spells every word of a grammar (one unit per CJK character / English word)."""
    words = grammar.word_graph().vocabulary()
    symbols = sorted({("\u2581" + w.upper()) if w.isascii() else w for w in words})
    return UnitTable(["<blank>", "<unk>", *symbols, "<sos/eos>"])


def tokenizer_for(model: Path | None, grammar) -> tuple[ModelTokenizer, str]:
    if model is not None and (model / "units.txt").is_file():
        return ModelTokenizer.for_model_dir(model), f"units of {model}"
    return ModelTokenizer(vocabulary_units(grammar)), "synthetic units (one per grammar word/character)"


def timed(fn, repeat: int) -> tuple[float, object]:
    best = math.inf
    value = None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def grammar_paths(lang: str) -> list[Path]:
    if lang == "all":
        return [REPO / "grammars" / "zh", REPO / "grammars" / "en"]
    return [REPO / "grammars" / lang]


def bench_compile(model: Path | None, repeat: int) -> dict[str, tuple]:
    print("== compile (word graph -> token graph -> search tables); best of", repeat)
    compiled = {}
    million = MILLION_GRAMMAR_FILE
    cases = [("zh", grammar_paths("zh")), ("en", grammar_paths("en")), ("zh+en", grammar_paths("all")),
             ("10^6 sentences (zh)", [million])]
    for name, paths in cases:
        t_load, grammar = timed(lambda: load_grammar(paths), 1)
        t_words, word_graph = timed(lambda: _fresh_word_graph(grammar), repeat)
        tokenizer, units_note = tokenizer_for(model if name != "10^6 sentences (zh)" else None, grammar)
        t_tokens, graph = timed(lambda: compile_token_graph(word_graph, tokenizer), repeat)
        t_index, index = timed(lambda: SearchIndex.build(graph), repeat)
        size = graph_summary(graph)
        index_bytes = sum(getattr(index, f).nbytes for f in ("h_node", "succ_start", "succ_count", "succ_hyp",
                                                              "succ_token", "succ_dist", "final_reachable"))
        print(f"{name:22s} load {t_load*1e3:7.1f} ms | word graph {t_words*1e3:6.1f} ms "
              f"({word_graph.num_states} states, {word_graph.num_arcs} arcs) | token graph {t_tokens*1e3:6.1f} ms "
              f"({size['states']} states, {size['arcs']} arcs, {size['epsilon_arcs']} eps, "
              f"{size['bytes']/1e6:.2f} MB) | search tables {t_index*1e3:6.1f} ms ({index_bytes/1e6:.2f} MB) "
              f"| unspellable {len(graph.unknown_words)} | {units_note}")
        compiled[name] = (grammar, tokenizer, graph)
    return compiled


def _fresh_word_graph(grammar):
    from daemon.grammar.graph import build_word_graph

    return build_word_graph(grammar)


def synthetic_logprobs(tokens, num_frames: int, vocab: int, rng, peaky: bool) -> np.ndarray:
    """(T, V) log-probs: peaky = one spike per unit of a real sentence over mostly blank frames; else noise."""
    if peaky:
        logits = rng.normal(0, 1.0, (num_frames, vocab))
        logits[:, 0] += 6.0
        for pos, tok in zip(np.linspace(3, num_frames - 4, len(tokens)).astype(int), tokens):
            logits[pos, tok] += 14.0
    else:
        logits = rng.normal(0, 2.0, (num_frames, vocab))
        logits[:, 0] += 3.0
    logits -= logits.max(axis=1, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)


def bench_decode(compiled: dict, repeat: int, utterances: int) -> None:
    print(f"== constrained decoding of a 5 s utterance (median over {utterances} utterances, best of {repeat} each)")
    for name in ("zh", "en", "zh+en"):
        grammar, tokenizer, graph = compiled[name]
        samples = sample_sentences(grammar, utterances, seed=1)
        for frames, label in ((62, "sub8 (62 frames)"), (125, "sub4 (125 frames)")):
            for peaky in (True, False):
                rng = np.random.default_rng(frames)
                times = []
                for sample in samples:
                    tokens = tokenizer.encode_words(_words(sample.text)) or ()
                    lp = synthetic_logprobs(tokens, frames, len(tokenizer.units), rng, peaky)
                    best, _ = timed(lambda: constrained_search(lp, graph), repeat)
                    times.append(best)
                kind = "sentence-shaped" if peaky else "noise (worst case)"
                print(f"{name:6s} {label:18s} {kind:19s} median {statistics.median(times)*1e3:6.2f} ms"
                      f"  max {max(times)*1e3:6.2f} ms")


def _words(text: str) -> list[str]:
    out: list[str] = []
    for word in text.split():
        if word.isascii():
            out.append(word.lower())
        else:
            out.extend(ch for ch in word)
    return out


# ---------------------------------------------------------------------------- calibration


def synthesize(text: str, lang: str, voice: str, out: Path) -> bool:
    """TTS to a 16 kHz mono WAV with espeak-ng or flite (+ sox); False if the engine failed."""
    raw = out.with_suffix(".raw.wav")
    if voice.startswith("flite"):
        cmd = ["flite", "-voice", voice.split(":", 1)[1] if ":" in voice else "slt", "-t", text, "-o", str(raw)]
    else:
        variant = voice.split(":", 1)[1] if ":" in voice else ("cmn" if lang == "zh" else "en-us")
        cmd = ["espeak-ng", "-v", variant, "-w", str(raw), text]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        return False
    return subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)],
                          capture_output=True).returncode == 0


def auc(positive: list[float], negative: list[float]) -> float:
    pos = np.asarray([p for p in positive if math.isfinite(p)] + [-1e9] * sum(not math.isfinite(p) for p in positive))
    neg = np.asarray([n if math.isfinite(n) else -1e9 for n in negative])
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def corpus_items(corpus: Path, lang: str, split: str, count: int) -> list[tuple[str, Path, str, dict]]:
    """(kind, wav, intent, slots) of M's synthesized corpus (utts.tsv + clean/<uid>.wav), ``count`` per kind."""
    import csv
    import json

    rows = list(csv.DictReader((corpus / "utts.tsv").open(encoding="utf-8"), delimiter="\t"))
    items: dict[str, list] = {"in": [], "oog": []}
    for row in rows:
        wav = corpus / "clean" / f"{row['uid']}.wav"
        if row["lang"].startswith(lang) and row["split"] == split and row["kind"] in items and wav.is_file():
            slots = json.loads(row["slots"]) if row.get("slots") else {}
            items[row["kind"]].append(("in" if row["kind"] == "in" else "out", wav, row.get("intent") or "", slots))
    rng = np.random.default_rng(7)
    out = []
    for kind_items in items.values():
        out += [kind_items[i] for i in rng.permutation(len(kind_items))[:count]]
    return out


def tts_items(lang: str, count: int, voice: str, tmp: Path) -> list[tuple[str, Path, str, dict]]:
    """Synthesize sampled grammar sentences and out-of-grammar sentences with espeak-ng/flite."""
    grammar = load_grammar(grammar_paths(lang))
    oog_file = REPO / "training" / f"oog_sentences_{lang}.txt"
    oog = [ln.strip() for ln in oog_file.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    rng = np.random.default_rng(7)
    oog = [oog[i] for i in rng.permutation(len(oog))[:count]]
    items = []
    for i, sample in enumerate(sample_sentences(grammar, count, seed=11)):
        wav = tmp / f"in{i}.wav"
        if synthesize(sample.text, lang, voice, wav):
            items.append(("in", wav, sample.intent, sample.slots))
    for i, text in enumerate(oog):
        wav = tmp / f"out{i}.wav"
        if synthesize(text, lang, voice, wav):
            items.append(("out", wav, "", {}))
    return items


def daemon_like(samples: np.ndarray, rng, preroll_s: float = 0.3, trailing_s: float = 0.5,
                snr_db: float | None = None) -> np.ndarray:
    """Pad as the service's VAD hands utterances over (pre-roll + trailing silence) with a little mic noise, and
    white noise ``snr_db`` below the speech's RMS over the whole utterance when given."""
    pad = lambda s: np.zeros(int(s * 16000))  # noqa: E731
    speech = samples.astype(np.float64)
    audio = np.concatenate([pad(preroll_s), speech, pad(trailing_s)])
    audio += rng.normal(0, 8.0, len(audio))
    if snr_db is not None:
        audio += rng.normal(0, np.sqrt(np.mean(speech**2)) / 10 ** (snr_db / 20), len(audio))
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


def calibrate(model: Path, langs: list[str], count: int, voice: str, corpus: Path | None, split: str,
              snrs: list[float | None], records_path: Path | None) -> None:
    """Margins (rejection threshold, clean speech) and the confidence features (every noise condition)."""
    import json

    from runtime.recognizer import Recognizer

    recognizer = Recognizer(model)
    tokenizer = ModelTokenizer.for_model_dir(model, recognizer.units)
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for lang in langs:
            if corpus is not None:
                items = corpus_items(corpus, lang, split, count)
                source = f"corpus {corpus} ({split} split)"
            else:
                items = tts_items(lang, count, voice, Path(tmp))
                source = f"TTS voice {voice}"
            print(f"== {lang}: {source}, {len(items)} utterances x noise {', '.join(snr_name(s) for s in snrs)}",
                  flush=True)
            records += measure(recognizer, tokenizer, lang, items, snrs)
    if records_path is not None:
        records_path.write_text(json.dumps(records, indent=0) + "\n", encoding="utf-8")
        print(f"per-utterance records: {records_path}")
    for lang in langs:
        report_threshold(model, lang, [r for r in records if r["lang"] == lang and r["snr"] is None])
    report_confidence(records)


def snr_name(snr: float | None) -> str:
    return "clean" if snr is None else f"{snr:g} dB"


def measure(recognizer, tokenizer, lang: str, items: list, snrs: list[float | None]) -> list[dict]:
    """Decode each item as the service hands it over, in each noise condition; one feature record per decode."""
    from daemon.audio.wavfile import read_wav_int16
    from daemon.grammar.decode import GrammarDecoder

    decoder = GrammarDecoder(load_grammar(grammar_paths(lang)), tokenizer, reject_threshold=-1e9)
    session = recognizer.create_session()
    rng = np.random.default_rng(3)
    records = []
    for kind, wav, intent, slots in items:
        samples = read_wav_int16(wav)
        for snr in snrs:
            session.reset()
            session.accept_waveform(daemon_like(samples, rng, snr_db=snr))
            final = session.finalize()
            start = time.perf_counter()
            search = constrained_search(final.logprobs, decoder.graph)
            result = decoder.result_of(search, final.frame_shift_ms)
            elapsed_ms = (time.perf_counter() - start) * 1e3
            diff = search.log_likelihood - search.free_log_likelihood
            records.append({
                "lang": lang, "file": wav.name, "snr": snr, "kind": kind,
                # in-grammar utterance decoded to its exact intent and slots (None: out-of-grammar speech)
                "right": (result.intent == intent and result.slots == slots) if kind == "in" else None,
                "margin": _finite(result.margin),
                # Alternative normalisations, insensitive to silence padding: per unit of the free transcript,
                # and per frame of the speech span (first to last frame whose best unit is not blank).
                "per_token": _finite(diff / (len(search.free_tokens) + 1)),
                "per_span": _finite(diff / speech_span(final.logprobs)),
                "gap": _finite(weakest_unit_gap(final.logprobs, search.tokens, search.token_frames)),
                "weakest_posterior": min(search.token_confidences, default=0.0),
                "confidence": result.confidence,
                "decode_ms": round(elapsed_ms, 3),
            })
    return records


def _finite(value: float) -> float | None:
    """JSON-safe: None for -inf (no grammar path fits)."""
    return round(float(value), 5) if math.isfinite(value) else None


def _values(records: list[dict], key: str) -> list[float]:
    return [-math.inf if r[key] is None else r[key] for r in records]


def report_threshold(model: Path, lang: str, records: list[dict]) -> None:
    """Rejection figures of the margin on clean speech: percentiles, AUCs, thresholds, the margin-only fit."""
    if not records:
        return
    ins = [r for r in records if r["kind"] == "in"]
    outs = [r for r in records if r["kind"] == "out"]
    decode_ms = [r["decode_ms"] for r in records]
    print(f"== calibration: model {model}, grammar {lang}, clean: {len(ins)} in-grammar, {len(outs)} out")
    print(f"in-grammar exact intent+slots (no rejection): {sum(r['right'] for r in ins)}/{len(ins)}; "
          f"decode median {statistics.median(decode_ms):.2f} ms, max {max(decode_ms):.2f} ms")
    for name, values in (("in-grammar", _values(ins, "margin")), ("out-of-grammar", _values(outs, "margin"))):
        finite = [v for v in values if math.isfinite(v)]
        qs = np.percentile(finite, [5, 25, 50, 75, 95]) if finite else []
        print(f"{name:15s} margin percentiles 5/25/50/75/95: " + " ".join(f"{q:.3f}" for q in qs)
              + f"  (no path: {len(values) - len(finite)})")
    print(f"rejection AUC per frame {auc(_values(ins, 'margin'), _values(outs, 'margin')):.3f}; "
          f"per free unit {auc(_values(ins, 'per_token'), _values(outs, 'per_token')):.3f}; "
          f"per speech-span frame {auc(_values(ins, 'per_span'), _values(outs, 'per_span')):.3f}")
    good = _values([r for r in ins if r["right"]], "margin")
    wrong = _values([r for r in ins if not r["right"]], "margin")
    outs = _values(outs, "margin")
    for threshold in (-0.02, -0.05, -0.1, -0.15, -0.2, -0.25, -0.3, -0.35, -0.4, -0.5, -0.6, -0.8, -1.0):
        print(f"threshold {threshold:6.2f}: correct commands rejected {rate(good, threshold, below=True):6.1%}  "
              f"misrecognised commands accepted {rate(wrong, threshold):6.1%}  "
              f"out-of-grammar accepted {rate(outs, threshold):6.1%}")
    grid = sorted({m for m in good + outs if math.isfinite(m)})
    if good and outs and grid:
        eer = min(grid, key=lambda th: abs(rate(good, th, below=True) - rate(outs, th)))
        best = min(grid, key=lambda th: rate(good, th, below=True) + rate(outs, th))
        print(f"equal-error threshold {eer:.3f} (correct rejected {rate(good, eer, below=True):.1%}, "
              f"out accepted {rate(outs, eer):.1%}); min total error at {best:.3f} "
              f"(correct rejected {rate(good, best, below=True):.1%}, out accepted {rate(outs, best):.1%})")
    fit_logistic(good, outs + wrong)  # margin-only P(the decoded command is right)


def rate(values: list[float], threshold: float, below: bool = False) -> float:
    """Share of margins below (rejected) or at/above (accepted) a threshold."""
    if not values:
        return 0.0
    return sum((m < threshold) if below else (m >= threshold) for m in values) / len(values)


def speech_span(logprobs: np.ndarray) -> int:
    """Frames from the first to the last frame whose most likely unit is not blank (at least 1)."""
    speech = np.flatnonzero(logprobs.argmax(axis=1) != 0)
    return int(speech[-1] - speech[0] + 1) if len(speech) else 1


def weakest_unit_gap(logprobs: np.ndarray, tokens: tuple[int, ...], frames: tuple[tuple[int, int], ...]) -> float:
    """Smallest, over the grammar path's units, of (log-prob of the unit - best other unit's) at its peak frame.

    Positive when every unit of the path is also the frame's best guess; -inf when no path fits."""
    if not tokens:
        return -math.inf
    gaps = []
    for token, (first, last) in zip(tokens, frames):
        t = first + int(logprobs[first : last + 1, token].argmax())
        gaps.append(float(logprobs[t, token] - np.delete(logprobs[t], token).max()))
    return min(gaps)


def report_confidence(records: list[dict]) -> None:
    """Fit the decoder's confidence (daemon/grammar/decode.py: command_confidence) on every noise condition, beside
    the alternatives it was chosen over, and show how the committed constants are calibrated on these decodes."""
    from daemon.grammar import decode

    fits = [r for r in records if r["margin"] is not None]  # no path: confidence 0, nothing to fit
    if not fits or len({r["kind"] == "in" and r["right"] for r in fits}) < 2:
        return
    y = np.array([float(r["kind"] == "in" and bool(r["right"])) for r in fits])
    margin = np.array([r["margin"] for r in fits])
    posterior = np.clip([r["weakest_posterior"] for r in fits], 1e-12, decode._MAX_POSTERIOR)
    log_odds = np.maximum(0.0, np.log(posterior) - np.log1p(-posterior))
    gap = np.maximum(0.0, np.array([r["gap"] for r in fits]))
    fade = np.exp(decode._CONF_FADE * margin)
    print(f"== confidence: {len(fits)} decodes (all languages and noise conditions), {int(y.sum())} right; "
          f"margin 0: {int((margin == 0).sum())}, {y[margin == 0].mean():.1%} right")
    ones = np.ones_like(margin)
    candidates = {
        "margin only": [ones, margin],
        "margin + weakest-unit gap (linear)": [ones, margin, np.array([r["gap"] for r in fits])],
        "margin + max(0, gap) * fade": [ones, margin, gap * fade],
        "margin + max(0, logit(weakest posterior)) * fade [decoder]": [ones, margin, log_odds * fade],
    }
    for name, columns in candidates.items():
        design = np.column_stack(columns)
        w = _newton_logistic(design, y)
        print(f"{name:58s} log-loss {_log_loss(1.0 / (1.0 + np.exp(-design @ w)), y):.4f}  weights "
              + " ".join(f"{v:.3f}" for v in w))
    committed = np.array([decode.command_confidence(r["margin"], r["weakest_posterior"]) for r in fits])
    print(f"committed constants (bias {decode._CONF_BIAS}, margin {decode._CONF_MARGIN}, posterior "
          f"{decode._CONF_POSTERIOR}, fade {decode._CONF_FADE}): log-loss {_log_loss(committed, y):.4f}; "
          f"predicted -> observed right:")
    edges = [0.0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0001]
    print("  " + "  ".join(f"{lo:.2f}-{min(hi, 1):.2f}: {y[sel].mean():.0%} of {sel.sum()}"
                           for lo, hi in zip(edges, edges[1:])
                           if (sel := (committed >= lo) & (committed < hi)).any()))
    for snr in dict.fromkeys(r["snr"] for r in fits):
        sel = np.array([r["snr"] == snr for r in fits])
        right = committed[sel & (y == 1)]
        wrong = committed[sel & (y == 0)]
        print(f"  {snr_name(snr):6s} confidence of right decodes 5/50/95 %: "
              + " ".join(f"{q:.3f}" for q in np.percentile(right, [5, 50, 95]))
              + "; of wrong ones (misrecognised, out of grammar) 50/95/99 %: "
              + " ".join(f"{q:.3f}" for q in np.percentile(wrong, [50, 95, 99])))


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _newton_logistic(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L2-regularised logistic regression weights by Newton steps."""
    w = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        grad = design.T @ (y - p) - 1e-3 * w
        hess = design.T @ (design * (p * (1 - p))[:, None]) + 1e-3 * np.eye(design.shape[1])
        w = w + np.linalg.solve(hess, grad)
    return w


def fit_logistic(ins: list[float], outs: list[float]) -> None:
    """Fit P(right | margin) = 1 / (1 + exp(-slope (margin - mid))) by Newton steps; print mid and slope."""
    x = np.array([m for m in ins + outs if math.isfinite(m)])
    y = np.array([1.0] * sum(math.isfinite(m) for m in ins) + [0.0] * sum(math.isfinite(m) for m in outs))
    if len(set(y.tolist())) < 2:
        return
    w = _newton_logistic(np.stack([np.ones_like(x), x], axis=1), y)
    slope, mid = w[1], -w[0] / w[1]
    print(f"logistic fit: slope {slope:.2f}, midpoint {mid:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: models/default if any)")
    parser.add_argument("--repeat", type=int, default=5, help="timing repetitions (best is reported)")
    parser.add_argument("--utterances", type=int, default=20, help="utterances per decoding figure")
    parser.add_argument("--calibrate", action="store_true", help="measure margins on TTS speech with --model")
    parser.add_argument("--lang", default="en", choices=("zh", "en", "both"))
    parser.add_argument("--count", type=int, default=60, help="utterances per class for --calibrate")
    parser.add_argument("--voice", default="espeak", help="espeak[:variant] or flite[:voice] for --calibrate")
    parser.add_argument("--corpus", type=Path, default=None, help="M's corpus dir (utts.tsv, clean/) for --calibrate")
    parser.add_argument("--split", default="test", help="corpus split for --calibrate (default test)")
    parser.add_argument("--snr", default="clean,20,10,5,0",
                        help="noise conditions for the confidence fit of --calibrate: 'clean' and white-noise SNRs "
                             "in dB, comma-separated (the threshold figures use the clean condition)")
    parser.add_argument("--records", type=Path, default=None, help="write --calibrate's per-utterance features here")
    args = parser.parse_args(argv)
    model = args.model
    if model is None and (REPO / "models" / "default" / "units.txt").is_file():
        model = REPO / "models" / "default"
    if args.calibrate:
        if model is None:
            parser.error("--calibrate needs a model (--model DIR or models/default)")
        tts = "flite" if args.voice.startswith("flite") else "espeak-ng"
        missing = missing_programs(tts, "sox") if args.corpus is None else []
        if missing:
            print(f"search bench: --calibrate without --corpus synthesizes speech with {tts} and sox; missing: "
                  f"{', '.join(missing)}: {program_install_hint(missing)}", file=sys.stderr)
            return 2
        snrs = [None if v.strip() == "clean" else float(v) for v in args.snr.split(",") if v.strip()]
        if None not in snrs:
            snrs.insert(0, None)
        langs = ["zh", "en"] if args.lang == "both" else [args.lang]
        calibrate(model, langs, args.count, args.voice, args.corpus, args.split, snrs, args.records)
        return 0
    compiled = bench_compile(model, args.repeat)
    bench_decode(compiled, args.repeat, args.utterances)
    return 0


if __name__ == "__main__":
    sys.exit(main())
