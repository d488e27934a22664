"""Wyoming server benchmark: audio-stop → transcript latency, sessions per second, RSS growth over many sessions.

    python bench/wyoming_bench.py [--latency-sessions 40] [--concurrency 4] [--throughput-seconds 20]
                                  [--rss-sessions 1000] [--grammar PATH ...] [--model DIR] [--workers N]
                                  [--tail-ms MS]
    voicecmd bench wyoming [same options]

The server runs as a subprocess (``voicecmd wyoming`` on a loopback port, no zeroconf); this script is the client
(PyPI wyoming), streaming the demo recordings in 40 ms chunks:

* latency: ``--concurrency`` clients stream in real time (as a satellite does) and time audio-stop → transcript;
  recognition runs while the audio arrives, so this is the last chunk, the grammar search and the answer.
* throughput: as many clients as ``--concurrency`` stream without pacing for ``--throughput-seconds``;
  completed transcriptions per second (and seconds of audio recognized per second).
* rss: the server's RSS after 10 and after ``--rss-sessions`` transcriptions (issue 11: within 5 MB).
Target (issue 11): p95 latency ≤ 50 ms on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency_bench import rss_mb  # noqa: E402
from daemon import paths  # noqa: E402

CHUNK_MS = 40
CLIPS = ["en_turn_on_kitchen_light.wav", "en_bedroom_temperature_22.wav", "zh_turn_on_living_room_light.wav",
         "en_not_a_command.wav"]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="voicecmd bench wyoming", description=__doc__.splitlines()[0])
    parser.add_argument("--latency-sessions", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4, help="clients at once (default 4)")
    parser.add_argument("--throughput-seconds", type=float, default=20.0)
    parser.add_argument("--rss-sessions", type=int, default=1000, help="0 skips the RSS run")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--grammar", type=Path, nargs="+", default=None)
    parser.add_argument("--workers", type=int, default=2, help="the server's recognition threads (default 2)")
    parser.add_argument("--tail-ms", type=int, default=0,
                        help="silence streamed after each recording before audio-stop, as a client's VAD does "
                             "(Assist waits ~0.7 s); Whisper decodes ahead during it (default 0)")
    return parser.parse_args(argv)


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "daemon", "wyoming", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf",
           "--workers", str(args.workers), "--max-connections", str(max(16, 2 * args.concurrency))]
    if args.model:
        cmd += ["--model", str(args.model)]
    if args.grammar:
        cmd += ["--grammar", *map(str, args.grammar)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline() if proc.stdout else ""
    if "port " not in line:
        proc.kill()
        raise SystemExit(f"wyoming bench: the server did not start ({line.strip() or 'no output'})")
    return proc, int(line.rsplit("port ", 1)[1].rstrip(")\n"))


def load_clips(tail_ms: int = 0) -> list[tuple[bytes, float]]:
    import wave

    clips = []
    for name in CLIPS:
        with wave.open(str(paths.default_demo_audio_dir() / name), "rb") as wav:
            assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1), name
            tail = b"\x00\x00" * (16 * tail_ms)
            clips.append((wav.readframes(wav.getnframes()) + tail, wav.getnframes() / 16000 + tail_ms / 1000))
    return clips


async def one_session(port: int, pcm: bytes, realtime: bool) -> float:
    """Stream one clip; seconds from audio-stop to the transcript."""
    from wyoming.asr import Transcribe
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncClient

    step = 16000 * 2 * CHUNK_MS // 1000
    async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
        await client.write_event(Transcribe().event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        t_next = time.perf_counter()
        for begin in range(0, len(pcm), step):
            await client.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=pcm[begin:begin + step]).event())
            if realtime:
                t_next += CHUNK_MS / 1000
                await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
        sent = time.perf_counter()
        await client.write_event(AudioStop().event())
        while True:
            event = await client.read_event()
            if event is None or event.type == "error":
                raise RuntimeError(f"server answered {event}")
            if event.type == "transcript":
                return time.perf_counter() - sent


async def run_sessions(port: int, clips: list, count: int, concurrency: int, realtime: bool,
                       deadline: Optional[float] = None) -> tuple[list[float], float]:
    latencies: list[float] = []
    audio_s = 0.0
    counter = iter(range(count))

    async def worker(index: int) -> None:
        nonlocal audio_s
        for n in counter:
            if deadline is not None and time.perf_counter() > deadline:
                return
            pcm, seconds = clips[(n + index) % len(clips)]
            latencies.append(await one_session(port, pcm, realtime))
            audio_s += seconds

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return latencies, audio_s


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        import wyoming  # noqa: F401
    except ImportError:
        print("wyoming bench: needs PyPI wyoming: pip install 'voicecmd[wyoming]'", file=sys.stderr)
        return 1
    clips = load_clips(args.tail_ms)
    proc, port = start_server(args)
    try:
        return measure(args, clips, port)
    except (RuntimeError, OSError) as exc:
        print(f"wyoming bench: {exc}", file=sys.stderr)
        return 1
    finally:
        proc.terminate()
        proc.wait(10)


def measure(args: argparse.Namespace, clips: list, port: int) -> int:
    """Latency, throughput and RSS against the started server; one printed line each."""
    asyncio.run(run_sessions(port, clips, 4, 1, realtime=False))  # warm-up
    lat, _ = asyncio.run(run_sessions(port, clips, args.latency_sessions, args.concurrency, realtime=True))
    ms = [x * 1000 for x in lat]
    print(f"latency (audio-stop -> transcript, {len(ms)} sessions, {args.concurrency} real-time clients, "
          f"{CHUNK_MS} ms chunks, {args.tail_ms} ms tail): p50 {percentile(ms, 50):.1f} ms, "
          f"p95 {percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms (target p95 <= 50 ms)", flush=True)
    if args.throughput_seconds > 0:
        start = time.perf_counter()
        done, audio_s = asyncio.run(run_sessions(port, clips, 10 ** 9, args.concurrency, realtime=False,
                                                 deadline=start + args.throughput_seconds))
        elapsed = time.perf_counter() - start
        print(f"throughput ({args.concurrency} unpaced clients, {args.workers} server workers, "
              f"{os.cpu_count()} CPUs): {len(done) / elapsed:.1f} sessions/s, "
              f"{audio_s / elapsed:.1f} s of audio per s", flush=True)
    if args.rss_sessions > 0:
        fresh, port_fresh = start_server(args)
        try:
            asyncio.run(run_sessions(port_fresh, clips, 10, args.concurrency, realtime=False))
            after_10 = rss_mb(fresh.pid)
            asyncio.run(run_sessions(port_fresh, clips, args.rss_sessions - 10, args.concurrency, realtime=False))
            after_n = rss_mb(fresh.pid)
        finally:
            fresh.terminate()
            fresh.wait(10)
        print(f"rss: {after_10:.1f} MB after 10 sessions, {after_n:.1f} MB after {args.rss_sessions} "
              f"({after_n - after_10:+.1f} MB; target within 5 MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
