"""Audio file input: empty and truncated files, 8/24/32-bit, float, EXTENSIBLE, stereo, any rate, FLAC; bad files
skipped by ``voicecmd recognize`` and by the daemon's WAV directory (issue 12)."""

from __future__ import annotations

import json
import logging
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from daemon.audio.files import WavSource
from daemon.audio.wavfile import read_wav_int16
from daemon.errors import AudioSourceError
from tests.daemon.speech import write_wav

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "audio"
COMMAND_WAV = DEMO / "en_turn_on_kitchen_light.wav"
SR = 16000

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed (script/apt-packages-test.txt)")


def sox(src: Path, dst: Path, *options: str) -> Path:
    """Convert ``src`` with sox (output options before the output file); no dither, so results are repeatable."""
    subprocess.run(["sox", "-D", str(src), *options, str(dst)], check=True, capture_output=True)
    return dst


def snr_db(got: np.ndarray, want: np.ndarray) -> float:
    n = min(len(got), len(want))
    a, b = got[:n].astype(float), want[:n].astype(float)
    return float(10 * np.log10(np.sum(b ** 2) / max(np.sum((a - b) ** 2), 1e-9)))


def problem(err: pytest.ExceptionInfo, path: Path) -> str:
    """The error message, which must name ``path``, without the path (tmp dirs are named after the test)."""
    message = str(err.value)
    assert str(path) in message
    return message.replace(str(path), "<file>")


def wav_bytes(fmt_tag: int, channels: int, rate: int, bits: int, data: bytes, *, declared: int | None = None,
              extensible_subformat: int | None = None) -> bytes:
    """A hand-made RIFF/WAVE file; ``declared`` overrides the data chunk's size field."""
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block_align, block_align, bits)
    if extensible_subformat is not None:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", extensible_subformat) + guid_tail
    size = len(data) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---------------------------------------------------------------------------- empty and truncated files


def test_empty_file_names_the_file_and_says_it_is_empty(tmp_path):
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioSourceError) as err:
        read_wav_int16(path)
    assert "empty" in problem(err, path)


def test_wav_without_samples_says_it_is_empty(tmp_path):
    path = write_wav(tmp_path / "nothing.wav", np.zeros(0, np.int16))
    with pytest.raises(AudioSourceError) as err:
        read_wav_int16(path)
    assert "empty" in problem(err, path)


def test_truncated_wav_is_reported_with_the_samples_read(tmp_path):
    samples = (np.arange(16000) % 200 - 100).astype(np.int16)
    path = write_wav(tmp_path / "cut.wav", samples)
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 2 * 12345 + 1])  # ends in the middle of sample 12346
    with pytest.raises(AudioSourceError) as err:
        read_wav_int16(path)
    message = problem(err, path)
    assert "truncated" in message and "12345" in message and "16000" in message


def test_streamed_wav_with_unknown_length_reads_to_the_end(tmp_path):
    """Recorders writing to a pipe cannot fill in the data size (0xFFFFFFFF or 0): not a truncation."""
    samples = np.arange(-500, 500, dtype=np.int16)
    for declared in (0xFFFFFFFF, 0):
        path = tmp_path / f"stream{declared}.wav"
        path.write_bytes(wav_bytes(1, 1, SR, 16, samples.astype("<i2").tobytes(), declared=declared))
        assert np.array_equal(read_wav_int16(path), samples)


def test_junk_is_a_one_line_error_naming_the_file(tmp_path):
    path = tmp_path / "junk.wav"
    path.write_bytes(b"RIFFjunk")
    with pytest.raises(AudioSourceError, match="junk.wav"):
        read_wav_int16(path)


# ---------------------------------------------------------------------------- sample formats (exact, hand-made)


def _reference() -> np.ndarray:
    rng = np.random.default_rng(5)
    return (rng.standard_normal(4000) * 3000).clip(-32768, 32767).astype(np.int16)


@pytest.mark.parametrize("kind", ["pcm24", "pcm32", "float32", "float64", "ext24", "ext_float32", "ext16"])
def test_high_precision_formats_read_to_the_same_int16(tmp_path, kind):
    ref = _reference()
    x = ref.astype(np.int64)
    if kind in ("pcm24", "ext24"):
        v = (x << 8) & 0xFFFFFF
        data = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
        tag, bits = 1, 24
    elif kind == "pcm32":
        data, tag, bits = (x << 16).astype("<i4").tobytes(), 1, 32
    elif kind in ("float32", "ext_float32"):
        data, tag, bits = (ref / 32768.0).astype("<f4").tobytes(), 3, 32
    elif kind == "float64":
        data, tag, bits = (ref / 32768.0).astype("<f8").tobytes(), 3, 64
    else:
        data, tag, bits = ref.astype("<i2").tobytes(), 1, 16
    ext = kind.startswith("ext")
    path = tmp_path / f"{kind}.wav"
    path.write_bytes(wav_bytes(0xFFFE if ext else tag, 1, SR, bits, data, extensible_subformat=tag if ext else None))
    assert np.array_equal(read_wav_int16(path), ref)


def test_8_bit_unsigned_is_centred_and_scaled(tmp_path):
    data = bytes([128, 0, 255, 192])
    path = tmp_path / "u8.wav"
    path.write_bytes(wav_bytes(1, 1, SR, 8, data))
    assert read_wav_int16(path).tolist() == [0, -32768, 127 * 256, 64 * 256]


def test_stereo_is_downmixed_to_the_channel_mean(tmp_path):
    left = np.array([1000, -2000, 300, 0], np.int16)
    right = np.array([3000, 2000, -301, 7], np.int16)
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav_bytes(1, 2, SR, 16, np.stack([left, right], axis=1).astype("<i2").tobytes()))
    assert read_wav_int16(path).tolist() == [2000, 0, 0, 4]  # rint of the mean: -0.5 -> 0, 3.5 -> 4


# ---------------------------------------------------------------------------- real conversions (sox)


@needs_sox
@pytest.mark.parametrize("name, options", [
    ("s24.wav", ["-b", "24"]),
    ("s32.wav", ["-b", "32"]),
    ("f32.wav", ["-e", "floating-point", "-b", "32"]),
    ("stereo.wav", ["-c", "2"]),
    ("quad24.wav", ["-c", "4", "-b", "24"]),
    ("command.flac", []),
    ("command24.flac", ["-b", "24"]),
])
def test_lossless_conversions_read_back_exactly(tmp_path, name, options):
    ref = read_wav_int16(COMMAND_WAV)
    got = read_wav_int16(sox(COMMAND_WAV, tmp_path / name, *options))
    assert len(got) == len(ref)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


@needs_sox
def test_8_bit_wav_is_accepted(tmp_path):
    ref = read_wav_int16(COMMAND_WAV)
    got = read_wav_int16(sox(COMMAND_WAV, tmp_path / "u8.wav", "-b", "8", "-e", "unsigned-integer"))
    assert len(got) == len(ref) and snr_db(got, ref) > 20


@needs_sox
@pytest.mark.parametrize("rate", [44100, 48000, 22050, 11025])
def test_other_rates_are_resampled_in_time_with_the_original(tmp_path, rate):
    ref = read_wav_int16(COMMAND_WAV)
    got = read_wav_int16(sox(COMMAND_WAV, tmp_path / f"r{rate}.wav", "-r", str(rate)))
    assert abs(len(got) - len(ref)) <= 1
    # The filter's delay is removed: the waveforms line up best without a shift. (What remains is a fraction of a
    # sample of delay and our 7.2 kHz band edge: harmless for recognition, and well above 15 dB.)
    by_lag = {lag: snr_db(got[max(lag, 0):], ref[max(-lag, 0):]) for lag in (-2, -1, 0, 1, 2)}
    assert max(by_lag, key=by_lag.get) == 0 and by_lag[0] > 15, by_lag


@needs_sox
def test_8_khz_is_upsampled_like_sox_does(tmp_path):
    narrow = sox(COMMAND_WAV, tmp_path / "r8k.wav", "-r", "8000")
    want = read_wav_int16(sox(narrow, tmp_path / "back.wav", "-r", "16000"))
    got = read_wav_int16(narrow)
    assert abs(len(got) - len(want)) <= 1 and snr_db(got, want) > 15


@needs_sox
def test_stereo_44k_flac_is_accepted(tmp_path):
    ref = read_wav_int16(COMMAND_WAV)
    got = read_wav_int16(sox(COMMAND_WAV, tmp_path / "phone.flac", "-r", "44100", "-c", "2"))
    assert abs(len(got) - len(ref)) <= 1 and snr_db(got, ref) > 20


@needs_sox
def test_truncated_flac_is_reported(tmp_path):
    path = sox(COMMAND_WAV, tmp_path / "cut.flac")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioSourceError) as err:
        read_wav_int16(path)
    assert "truncated" in problem(err, path)


# ---------------------------------------------------------------------------- the daemon's WAV directory


def test_one_bad_file_in_the_wav_directory_is_skipped_with_an_error(tmp_path, caplog):
    write_wav(tmp_path / "a.wav", np.full(800, 100, np.int16))
    (tmp_path / "b.wav").write_bytes(b"")
    write_wav(tmp_path / "c.wav", np.full(800, 300, np.int16))
    source = WavSource(tmp_path, block=480, realtime=False, gap_s=0.0)
    with caplog.at_level(logging.ERROR, logger="daemon.audio.files"):
        source.open()
    assert any("b.wav" in r.getMessage() and "empty" in r.getMessage() for r in caplog.records)
    blocks = []
    while (block := source.read()) is not None:
        blocks.append(block)
    out = np.concatenate(blocks)
    assert out.tolist() == [100] * 800 + [300] * 800


def test_wav_directory_plays_flac_too(tmp_path):
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    sox(COMMAND_WAV, tmp_path / "a.flac")
    source = WavSource(tmp_path, realtime=False, gap_s=0.0)
    source.open()
    blocks = []
    while (block := source.read()) is not None:
        blocks.append(block)
    assert np.array_equal(np.concatenate(blocks), read_wav_int16(COMMAND_WAV))


def test_a_directory_of_only_bad_files_fails_at_start_up(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "b.wav").write_bytes(b"RIFFjunk")
    with pytest.raises(AudioSourceError, match="no readable audio file"):
        WavSource(tmp_path).open()


def test_the_daemon_starts_despite_a_bad_file_in_its_wav_directory(tmp_path):
    from daemon.audio.source import make_source
    from daemon.config import AudioConfig
    from tests.daemon.speech import synth_wav
    from tests.daemon.test_app import make_daemon

    audio = tmp_path / "audio"
    audio.mkdir()
    (audio / "0-broken.wav").write_bytes(b"RIFF")
    shutil.copy(synth_wav("turn on the kitchen light"), audio / "1-command.wav")
    daemon, sink = make_daemon(tmp_path)
    daemon._source_factory = lambda: make_source(AudioConfig(source="wav", wav_path=audio, realtime=False))
    assert daemon.run() == 0
    assert [e.intent for e in sink.intents] == ["light_on"]


# ---------------------------------------------------------------------------- voicecmd recognize


def test_recognize_takes_flac_after_grammar():
    from daemon.commands.recognize import _split_wavs

    grammars, audio = _split_wavs([Path("grammars"), Path("a.flac"), Path("b.WAV")], ["c.ogg"])
    assert grammars == [Path("grammars")] and audio == ["a.flac", "b.WAV", "c.ogg"]


@needs_sox
@pytest.mark.skipif(not (ROOT / "models" / "default" / "units.txt").exists(), reason="no bundled model")
def test_recognize_reports_bad_files_goes_on_and_fails_at_the_end(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    flac = sox(COMMAND_WAV, tmp_path / "phone.flac", "-r", "44100", "-c", "2", "-b", "24")
    missing = tmp_path / "missing.wav"
    proc = subprocess.run([sys.executable, "-m", "daemon", "recognize", "--grammar", str(ROOT / "grammars"),
                           str(empty), str(flac), str(missing)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(flac)]
    assert lines[0]["intent"] == "HassTurnOn" and lines[0]["slots"] == {"area": "kitchen", "device": "light", "domain": "light"}
    assert f"{empty}: empty" in proc.stderr and str(missing) in proc.stderr
    assert "2 of 3 audio files could not be read" in proc.stderr


# ---------------------------------------------------------------------------- without soundfile (e.g. a bare .deb)


@needs_sox
def test_without_soundfile_wav_still_reads_and_flac_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "soundfile", None)  # import soundfile -> ImportError
    ref = read_wav_int16(COMMAND_WAV)
    assert np.array_equal(read_wav_int16(sox(COMMAND_WAV, tmp_path / "s24.wav", "-b", "24", "-c", "2")), ref)
    flac = sox(COMMAND_WAV, tmp_path / "a.flac")
    with pytest.raises(AudioSourceError) as err:
        read_wav_int16(flac)
    assert "pip install soundfile" in problem(err, flac)
