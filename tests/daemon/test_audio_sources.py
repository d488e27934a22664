"""Audio sources: resampler quality and block invariance, WAV file/directory pacing, raw stdin, microphone via ALSA."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from daemon.audio.files import RawStdinSource, WavSource
from daemon.audio.resample import StreamingResampler
from daemon.audio.source import make_source
from daemon.config import AudioConfig
from daemon.errors import AudioSourceError
from tests.daemon.speech import synth_samples, write_wav

ROOT = Path(__file__).resolve().parents[2]
SR = 16000


def tone(rate: int, freq: float, seconds: float, amp: float = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def level_at(samples: np.ndarray, freq: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / SR)
    return float(spectrum[np.argmin(np.abs(freqs - freq))])


@pytest.mark.parametrize("rate", [48000, 44100, 22050, 32000])
def test_resampler_keeps_speech_band_and_rejects_aliases(rate):
    passband = StreamingResampler(rate).process(tone(rate, 1000, 1.0))
    assert abs(len(passband) - SR) <= 1
    reference = level_at(tone(SR, 1000, 1.0)[4000:12000].astype(float), 1000)
    assert level_at(passband[4000:12000].astype(float), 1000) == pytest.approx(reference, rel=0.05)
    if rate > 2 * 11000:
        # 11 kHz is above the 8 kHz output Nyquist: it must not fold back to 5 kHz
        folded = StreamingResampler(rate).process(tone(rate, 11000, 1.0))[4000:12000].astype(float)
        assert level_at(folded, 5000) < reference / 300  # > 50 dB down


def test_resampler_output_does_not_depend_on_block_sizes():
    x = tone(44100, 440, 2.0) + tone(44100, 3000, 2.0, 2000)
    whole = StreamingResampler(44100).process(x)
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.choice(len(x), 50, replace=False))
    r = StreamingResampler(44100)
    pieces = np.concatenate([r.process(p) for p in np.split(x, cuts)])
    assert np.array_equal(whole, pieces)


def test_resampler_is_a_passthrough_at_16k():
    x = tone(SR, 440, 0.1)
    assert np.array_equal(StreamingResampler(SR).process(x), x)


def test_wav_directory_plays_files_in_order_with_gaps(tmp_path):
    a = write_wav(tmp_path / "a.wav", np.full(800, 100, np.int16))
    write_wav(tmp_path / "b.wav", np.full(800, 200, np.int16))
    (tmp_path / "notes.txt").write_text("ignored")
    source = WavSource(tmp_path, block=480, realtime=False, gap_s=0.1)
    source.open()
    blocks = []
    while (block := source.read()) is not None:
        blocks.append(block)
    out = np.concatenate(blocks)
    assert len(out) == 2 * (800 + 1600)
    assert set(out[:800]) == {100} and set(out[800:2400]) == {0} and set(out[2400:3200]) == {200}
    assert a.exists()


def test_wav_realtime_pacing(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(int(0.5 * SR), np.int16))
    source = WavSource(tmp_path / "a.wav", realtime=True, gap_s=0.0)
    source.open()
    t0 = time.monotonic()
    while source.read() is not None:
        pass
    assert 0.45 < time.monotonic() - t0 < 0.8


def _junk_wav(d: Path) -> Path:
    (d / "x.wav").write_bytes(b"RIFFjunk")
    return d / "x.wav"


@pytest.mark.parametrize("make_bad, message", [
    (lambda d: d / "missing.wav", "no such audio file"),
    (lambda d: d, "directory has no audio files"),
    (_junk_wav, "not a readable WAV"),
])
def test_bad_wav_inputs_are_one_line_errors(tmp_path, make_bad, message):
    with pytest.raises(AudioSourceError, match=message):
        WavSource(make_bad(tmp_path)).open()


def test_raw_stdin_blocks_and_eof():
    data = np.arange(1000, dtype=np.int16)
    source = RawStdinSource(block=480, stream=io.BytesIO(data.astype("<i2").tobytes()))
    source.open()
    blocks = [source.read(), source.read(), source.read(), source.read()]
    assert [len(b) for b in blocks[:3]] == [480, 480, 40] and blocks[3] is None
    assert np.array_equal(np.concatenate(blocks[:3]), data)


def test_factory_builds_the_configured_source(tmp_path):
    assert isinstance(make_source(AudioConfig(source="wav", wav_path=tmp_path)), WavSource)
    assert isinstance(make_source(AudioConfig(source="stdin")), RawStdinSource)


_MIC_SCRIPT = textwrap.dedent("""
    import json, sys, numpy as np
    from daemon.audio.microphone import MicrophoneSource, list_input_devices
    names = [d.name for d in list_input_devices()]
    rate = int(sys.argv[4])
    src = MicrophoneSource(device=sys.argv[1], block=480, input_rate=None if rate == 16000 else rate)
    src.open()
    blocks = [src.read() for _ in range(int(sys.argv[2]))]
    src.close()
    out = np.concatenate(blocks)
    np.save(sys.argv[3], out)
    print(json.dumps({"names": names, "name": src.name, "rate": src.rate}))
""")


@pytest.mark.parametrize("device_rate", [16000, 48000])
def test_microphone_reads_through_alsa_bit_exact_or_resampled(tmp_path, device_rate):
    """PyAudio capture from ALSA's file plugin (no sound card needed): 16 kHz is bit-exact, 48 kHz is resampled."""
    speech = synth_samples("turn on the kitchen light")
    if device_rate == SR:
        source = speech
    else:
        source = np.round(np.interp(np.arange(len(speech) * 3) / 3, np.arange(len(speech)), speech)).astype(np.int16)
    raw = tmp_path / "in.raw"
    raw.write_bytes(source.astype("<i2").tobytes())
    # The file plugin accepts any rate and returns the raw bytes: opened at 48 kHz it delivers the 48 kHz data.
    (tmp_path / ".asoundrc").write_text(
        f'pcm.wavin {{ type file; slave.pcm "null"; file "/dev/null"; infile "{raw}"; format "raw" }}\n'
    )
    blocks = len(speech) // 480
    out_file = tmp_path / "out.npy"
    proc = subprocess.run([sys.executable, "-c", _MIC_SCRIPT, "wavin", str(blocks), str(out_file), str(device_rate)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "wavin" in info["names"] and info["name"].endswith("wavin")
    captured = np.load(out_file)
    if device_rate == SR:
        assert info["rate"] == SR
        assert np.array_equal(captured, speech[: len(captured)])
    else:
        assert info["rate"] == device_rate
        # correlate to find the resampler's delay, then compare the waveforms
        n = len(captured) - 200
        lags = [int(np.dot(captured[d : d + n].astype(float), speech[:n].astype(float))) for d in range(0, 60)]
        delay = int(np.argmax(lags))
        a, b = captured[delay : delay + n].astype(float), speech[:n].astype(float)
        snr = 10 * np.log10(np.sum(b ** 2) / np.sum((a - b) ** 2))
        assert snr > 20, snr


def _alsa_home(tmp_path: Path) -> dict[str, str]:
    raw = tmp_path / "in.raw"
    raw.write_bytes(np.zeros(16000, "<i2").tobytes())
    (tmp_path / ".asoundrc").write_text(
        f'pcm.wavin {{ type file; slave.pcm "null"; file "/dev/null"; infile "{raw}"; format "raw" }}\n')
    return {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}


def test_devices_command_lists_input_devices(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "daemon", "devices"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env=_alsa_home(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert any(line.split()[1] == "wavin" for line in proc.stdout.splitlines())


def test_unknown_device_names_the_available_ones(tmp_path):
    script = ("from daemon.audio.microphone import MicrophoneSource\n"
              "from daemon.errors import AudioSourceError\n"
              "try:\n    MicrophoneSource(device='nosuchmic').open()\n"
              "except AudioSourceError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env=_alsa_home(tmp_path))
    assert "audio.device: no input device matching 'nosuchmic' (available: " in proc.stdout
    assert "wavin" in proc.stdout
