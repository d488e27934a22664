"""Command accuracy on real human speech (the shared real-speech dev set), the Picovoice way, vs pocketsphinx.

Sets (measured on, never trained or calibrated on):
* coffee: 206 real English coffee orders (Picovoice's speech-to-intent benchmark) with their Rhino context as a
  voicecmd grammar; clean, 12 dB and 6 dB of the benchmark's kitchen noise (noise RMS relative to the clip's RMS).
  Acceptance = intent and every slot exact.
* zh_read: 24 real Mandarin read sentences; grammar = their transcripts plus 48 distractor sentences
  (training/oog_sentences_zh.txt). Acceptance = the clip's own sentence, accepted at the threshold.
* out of grammar: real speech that is no command of the grammar it is decoded with (coffee orders against the
  shipped home grammars, the Mandarin sentences against the coffee and home grammars) and kitchen noise alone
  against all grammars; every acceptance is a false accept.

    python bench/real_speech.py [--model DIR] [--limit N] [--json docs/real_speech.json] \
        [--plot docs/real_speech_vs_snr.png]
    python bench/real_speech.py --pipeline on|off [...]

``--pipeline`` runs every clip (plus 1 s of silence) through the daemon's CommandPipeline instead of one decode of
the whole clip: webrtcvad endpointing, the look-ahead and early commit switched on or off, at the model's default
threshold. A clip counts as right when it gives exactly one intent, with every slot right (not-recognized events
of noise around it aside); any intent on an out-of-grammar clip is a false accept. Each look-ahead is let finish before the next 30 ms block (a decoder
faster than real time), so early commit decides on the same audio as live but never sees speech that resumes
while it decodes: it commits at least as often as live.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from daemon.audio.audiofile import read_audio  # noqa: E402
from daemon.grammar import load_grammar  # noqa: E402
from daemon.grammar.decoders import default_reject_threshold, make_grammar_decoder  # noqa: E402
from daemon.paths import default_model_dir  # noqa: E402
from runtime.recognizer import open_recognizer  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "real-speech-dev"
CONDITIONS = ("clean", 12, 6)
FEED = 1600  # 100 ms blocks, as the microphone path feeds them
NOISE_CLIPS = 12  # kitchen-noise-only clips (4 s each) for false accepts
THRESHOLD_SWEEP = (-0.5, -0.75, -1.0, -1.25, -1.5, -1.75, -2.0, -3.0)


def slots_key(slots: dict) -> str:
    """Canonical JSON of a slot dict."""
    return json.dumps(slots, sort_keys=True, ensure_ascii=False)


def mix_noise(clean: np.ndarray, noise: np.ndarray, snr_db: float, index: int) -> np.ndarray:
    """Kitchen noise at ``snr_db`` below the clip's RMS, from a per-clip offset in the noise recording."""
    speech = clean.astype(np.float32)
    start = (index * 7919 * 160) % max(1, len(noise) - len(speech))
    segment = noise[start:start + len(speech)].astype(np.float32)
    if len(segment) < len(speech):
        segment = np.resize(segment, len(speech))
    speech_rms = math.sqrt(float(np.mean(speech ** 2)) or 1.0)
    noise_rms = math.sqrt(float(np.mean(segment ** 2)) or 1.0)
    mixed = speech + segment * (speech_rms / noise_rms) * 10 ** (-snr_db / 20)
    return np.clip(mixed, -32768, 32767).astype(np.int16)


class Voicecmd:
    """The recognizer under test: open_recognizer + the grammar decoder, margins recorded for threshold sweeps."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        self.recognizer = open_recognizer(model_dir, num_threads=threads)
        self.session = self.recognizer.create_session()
        self.threshold = default_reject_threshold(self.recognizer)
        self.name = f"voicecmd {Path(model_dir).name}"

    def decoder(self, grammar):
        """A decoder that never rejects (the threshold is applied afterwards)."""
        return make_grammar_decoder(grammar, self.recognizer, -100.0)

    def run(self, decoder, samples: np.ndarray) -> dict:
        """Decode one utterance."""
        self.session.reset()
        for begin in range(0, len(samples), FEED):
            self.session.accept_waveform(samples[begin:begin + FEED])
        res = decoder.decode_result(self.session.finalize())
        margin = res.margin if math.isfinite(res.margin) else -1e9
        return {"fits": bool(res.recognized), "intent": res.intent, "slots": slots_key(res.slots), "margin": margin,
                "free": res.free_text, "text": res.text}


class PipelineVoicecmd(Voicecmd):
    """The recognizer under test inside the daemon's pipeline (VAD, look-ahead, early commit on or off)."""

    def __init__(self, model_dir: Path, threads: int, early_commit: bool, guard_ms: int | None = None) -> None:
        super().__init__(model_dir, threads)
        from daemon.config import VadConfig  # noqa: PLC0415

        guard = {} if guard_ms is None else {"early_commit_after_ms": guard_ms}
        self.vad_config = VadConfig(early_commit=early_commit, **guard)
        self.name = f"voicecmd {Path(model_dir).name} pipeline, early commit {'on' if early_commit else 'off'}"

    def decoder(self, grammar):
        """An ActiveGrammar at the model's default threshold (the pipeline publishes only accepted intents)."""
        from daemon.pipeline import ActiveGrammar  # noqa: PLC0415

        active = ActiveGrammar(decoder=make_grammar_decoder(grammar, self.recognizer, None), language=None,
                               version="bench", grammar=grammar)
        _ = active.completion
        return active

    def run(self, decoder, samples: np.ndarray) -> dict:
        """Feed the clip and 1 s of silence in 30 ms blocks; the events it gave."""
        from daemon.events import IntentEvent  # noqa: PLC0415
        from daemon.pipeline import CommandPipeline  # noqa: PLC0415

        pipeline = CommandPipeline(self.recognizer, lambda: decoder, _NullSink(), self.vad_config, "bench")
        audio = np.concatenate([samples, np.zeros(16000, np.int16)])
        events = []
        for begin in range(0, len(audio), 480):
            events += pipeline.feed(audio[begin:begin + 480], begin / 16000)
            pipeline.settle()
        events += pipeline.flush()
        pipeline.close()
        intents = [e for e in events if isinstance(e, IntentEvent)]
        first = intents[0] if len(intents) == 1 else None
        return {"fits": bool(intents), "intent": first.intent if first else None,
                "slots": slots_key(first.slots) if first else "{}", "margin": 0.0 if intents else -1e9,
                "free": " | ".join(getattr(e, "text", "") for e in events), "text": first.text if first else "",
                "events": len(events), "early_commits": pipeline.stats.early_commits}


class _NullSink:
    """Events are collected from feed()'s return value; nothing is published."""

    def publish_intent(self, event) -> None:
        """Drop."""

    def publish_not_recognized(self, event) -> None:
        """Drop."""


class Pocketsphinx:
    """pocketsphinx 5 (bundled en-us model) with a finite-state grammar from the same YAML (its minimal word automaton,
    bench/accuracy.py fsg_of); it has no rejection."""

    name = "pocketsphinx"
    threshold = 0.0

    def __init__(self, work: Path) -> None:
        import pocketsphinx  # noqa: F401,PLC0415 - ImportError here skips the column
        import pyformlang  # noqa: F401,PLC0415 - minimizes the FSG; likewise
        from bench.accuracy import Pocketsphinx as Engine  # noqa: PLC0415

        self.engine_class = Engine
        self.work = work

    def decoder(self, grammar):
        """One pocketsphinx decoder per grammar."""
        return self.engine_class(grammar, self.work)

    def run(self, decoder, samples: np.ndarray) -> dict:
        """Decode one utterance."""
        res = decoder.run(samples)
        return {**res, "margin": 0.0, "text": res["free"]}


def coffee_items(data: Path) -> list[dict]:
    """(audio path, expected intent, expected slots) of the coffee set."""
    labels = json.loads((data / "coffee" / "label.json").read_text())
    items = []
    for flac in sorted((data / "coffee" / "clean").glob("*.flac")):
        label = labels[flac.stem + ".wav"]
        items.append({"path": flac, "intent": label["intent"], "slots": slots_key(label["slots"])})
    return items


def zh_read_grammar(data: Path, work: Path) -> tuple[Path, list[dict]]:
    """A grammar of the zh_read transcripts (one intent each) plus distractors, and the clips with their intent."""
    manifest = json.loads((data / "zh_read" / "manifest.json").read_text(encoding="utf-8"))
    distractors = [line.strip() for line in (REPO_ROOT / "training" / "oog_sentences_zh.txt").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")][:48]
    lines = ["language: zh-cn", "intents:"]
    items = []
    for index, entry in enumerate(manifest):
        lines += [f"  Read{index:02d}:", "    data:", f"    - sentences: [{json.dumps(entry['transcript'], ensure_ascii=False)}]"]
        items.append({"path": data / "zh_read" / entry["file"], "intent": f"Read{index:02d}", "slots": "{}"})
    for index, sentence in enumerate(distractors):
        lines += [f"  Distractor{index:02d}:", "    data:", f"    - sentences: [{json.dumps(sentence, ensure_ascii=False)}]"]
    work.mkdir(parents=True, exist_ok=True)
    path = work / "zh_read.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, items


def evaluate(engine, decoder, items: list[dict], condition, noise: np.ndarray, limit: int | None) -> dict:
    """Records of one engine on one set and condition, with audio and processing seconds."""
    records, audio_s, proc_s = [], 0.0, 0.0
    for index, item in enumerate(items[:limit] if limit else items):
        samples = item["samples"] if "samples" in item else read_audio(item["path"])
        if condition != "clean":
            samples = mix_noise(samples, noise, float(condition), index)
        start = time.perf_counter()
        res = engine.run(decoder, samples)
        proc_s += time.perf_counter() - start
        audio_s += len(samples) / 16000
        res["correct"] = res["intent"] == item["intent"] and res["slots"] == item["slots"]
        res["item"] = item["path"].name if "path" in item else item["name"]
        records.append(res)
    return {"records": records, "audio_s": audio_s, "proc_s": proc_s}


def accepted(record: dict, threshold: float) -> bool:
    """Recognized at ``threshold``."""
    return record["fits"] and record["margin"] >= threshold


def acceptance(records: list[dict], threshold: float) -> float:
    """Share recognized with the right intent and every slot."""
    return sum(accepted(r, threshold) and r["correct"] for r in records) / max(1, len(records))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures, optionally save JSON and a plot."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the real-speech dev set directory")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled CPU model)")
    parser.add_argument("--threshold", type=float, default=None, help="rejection threshold (default: the model's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="at most N clips per set and condition")
    parser.add_argument("--conditions", default="clean,12,6")
    parser.add_argument("--pocketsphinx", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--ps-limit", type=int, default=None,
                        help="pocketsphinx: at most N clips per set (about 0.2 s per coffee clip)")
    parser.add_argument("--voicecmd", action=argparse.BooleanOptionalAction, default=True,
                        help="run voicecmd (--no-voicecmd: only the peer, e.g. in a second process)")
    parser.add_argument("--pipeline", choices=("on", "off"), default=None,
                        help="run the clips through the daemon's pipeline with early commit on or off")
    parser.add_argument("--early-commit-after-ms", type=int, default=None,
                        help="with --pipeline on: the guard (default: the model's trailing context)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/voicecmd-real-speech"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    if not (args.data / "coffee" / "label.json").is_file():
        print(f"bench real speech: {args.data}: no real-speech dev set here (give --data DIR)", file=sys.stderr)
        return 2
    conditions = [c if c == "clean" else int(c) for c in args.conditions.split(",")]
    if args.pipeline is not None:
        ours = PipelineVoicecmd(args.model or default_model_dir(), args.threads, args.pipeline == "on",
                                args.early_commit_after_ms)
    else:
        ours = Voicecmd(args.model or default_model_dir(), args.threads)
    threshold = ours.threshold if args.threshold is None else args.threshold
    noise = read_audio(args.data / "coffee" / "kitchen_noise.flac")
    coffee_grammar = load_grammar([args.data / "coffee" / "coffee_en.yaml"])
    home_grammar = load_grammar([REPO_ROOT / "grammars"])
    home_grammar_en = load_grammar([REPO_ROOT / "grammars" / "en"])  # pocketsphinx's dictionary is English
    zh_path, zh_items = zh_read_grammar(args.data, args.work)
    zh_grammar = load_grammar([zh_path])
    coffee = coffee_items(args.data)
    noise_items = [{"name": f"kitchen_noise_{i}", "samples": noise[i * 64000 + 8000:(i + 1) * 64000],
                    "intent": None, "slots": "{}"} for i in range(NOISE_CLIPS)]
    engines = [ours] if args.voicecmd else []
    if args.pocketsphinx:
        try:
            engines.append(Pocketsphinx(args.work / "pocketsphinx"))
        except ImportError:
            print("(pocketsphinx column skipped: pip install pocketsphinx pyformlang)")
    results: dict = {"threshold": threshold, "model": str(args.model or default_model_dir()), "sets": {}}
    for engine in engines:
        is_ours = engine is ours
        limit = args.limit if is_ours else min(x for x in (args.limit, args.ps_limit, 10**9) if x)
        sets = results["sets"].setdefault(engine.name, {})
        coffee_decoder = engine.decoder(coffee_grammar)
        for condition in conditions:
            sets[f"coffee {condition}"] = evaluate(engine, coffee_decoder, coffee, condition, noise, limit)
        oog: list[dict] = []
        home_decoder = engine.decoder(home_grammar if is_ours else home_grammar_en)
        oog += evaluate(engine, home_decoder, coffee, "clean", noise, limit)["records"]
        if is_ours:
            zh_decoder = engine.decoder(zh_grammar)
            sets["zh_read clean"] = evaluate(engine, zh_decoder, zh_items, "clean", noise, limit)
            for grammar_decoder in (coffee_decoder, home_decoder):
                oog += evaluate(engine, grammar_decoder, zh_items, "clean", noise, limit)["records"]
            for grammar_decoder in (coffee_decoder, home_decoder, zh_decoder):
                oog += evaluate(engine, grammar_decoder, noise_items, "clean", noise, limit)["records"]
        else:
            oog += evaluate(engine, coffee_decoder, noise_items, "clean", noise, limit)["records"]
        sets["out of grammar"] = {"records": oog}
    print(f"real-speech dev set ({args.data}); acceptance = intent and every slot exact; threshold {threshold}")
    summary: dict = {}
    for name, sets in results["sets"].items():
        engine_threshold = threshold if name == ours.name else 0.0
        row = {}
        for key, data in sets.items():
            if key == "out of grammar":
                fas = sum(accepted(r, engine_threshold) for r in data["records"])
                row[key] = {"false_accepts": fas, "utterances": len(data["records"])}
                continue
            rtf = data["proc_s"] / max(1e-9, data["audio_s"])
            row[key] = {"acceptance": acceptance(data["records"], engine_threshold), "n": len(data["records"]),
                        "rtf": rtf}
        summary[name] = row
        parts = [f"{key} {100 * v['acceptance']:.1f}% (n={v['n']}, RTF {v['rtf']:.2f})" for key, v in row.items()
                 if "acceptance" in v]
        oog_row = row["out of grammar"]
        parts.append(f"out-of-grammar false accepts {oog_row['false_accepts']}/{oog_row['utterances']}")
        print(f"{name}: " + "; ".join(parts))
    ours_sets = results["sets"].get(ours.name, {})
    sweep = {}
    for value in THRESHOLD_SWEEP:
        sweep[str(value)] = {key: round(acceptance(d["records"], value), 4) for key, d in ours_sets.items()
                             if key != "out of grammar"}
        sweep[str(value)]["false_accepts"] = sum(accepted(r, value) for r in ours_sets.get("out of grammar", {}).get(
            "records", []))
    print("threshold sweep (voicecmd): " + "; ".join(
        f"{t}: " + " ".join(f"{k.split()[-1] if k.startswith('coffee') else k} {100 * v:.1f}%"
                            for k, v in s.items() if k != "false_accepts") + f" FA {s['false_accepts']}"
        for t, s in sweep.items()))
    results["summary"] = summary
    results["threshold_sweep"] = sweep
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    if args.plot:
        plot(summary, conditions, args.plot)
    return 0


def plot(summary: dict, conditions: list, path: Path) -> None:
    """Acceptance vs SNR on the real coffee orders, one line per engine."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    labels = ["clean" if c == "clean" else f"{c} dB" for c in conditions]
    for name, row in summary.items():
        ax.plot(labels, [100 * row[f"coffee {c}"]["acceptance"] for c in conditions], marker="o", label=name)
    for target, style in ((97.6, "--"), (92, ":"), (88, "-.")):
        ax.axhline(target, color="grey", lw=0.8, ls=style)
    ax.set_ylabel("command acceptance (%)")
    ax.set_xlabel("kitchen noise (SNR)")
    ax.set_ylim(0, 100)
    ax.set_title("Real English coffee orders (Picovoice speech-to-intent dev clips)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
