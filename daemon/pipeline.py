"""CommandPipeline: audio blocks → VAD → streaming recognizer session → grammar decoder → intent / not-recognized events."""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence

import numpy as np

from daemon.config import VadConfig
from daemon.events import IntentEvent, NotRecognizedEvent, TokenInfo, UtteranceEvent
from daemon.mqtt.language import utterance_language
from daemon.speculation import SpeculativeDecoder
from daemon.vad import UtteranceAudio, UtteranceEnd, UtteranceStart, VadSegmenter

_LOGGER = logging.getLogger(__name__)
SAMPLE_RATE = 16000


# --------------------------------------------------------------------------------------------------------------
# Protocols the pipeline depends on (runtime.recognizer, daemon.grammar.decode and the MQTT link satisfy them)


class RecognizerSessionLike(Protocol):
    """One streaming recognition session (runtime.recognizer.RecognizerSession)."""

    def accept_waveform(self, samples: np.ndarray) -> None: ...
    def endpoint_detected(self) -> bool: ...
    def finalize(self) -> Any: ...
    def reset(self) -> None: ...


class RecognizerLike(Protocol):
    """Creates sessions (runtime.recognizer.Recognizer)."""

    frame_shift_ms: int

    def create_session(self) -> RecognizerSessionLike: ...


class DecoderLike(Protocol):
    """Grammar-constrained decoding of a finished recognition (daemon.grammar.decoders.make_grammar_decoder)."""

    def decode_result(self, result: Any) -> Any: ...


class EventSink(Protocol):
    """Where events go (daemon.mqtt.link.MqttLink, a stdout sink, a test recorder)."""

    def publish_intent(self, event: IntentEvent) -> None: ...
    def publish_not_recognized(self, event: NotRecognizedEvent) -> None: ...


@dataclass(frozen=True)
class ActiveGrammar:
    """The grammar currently in force: its decoder, language and a version string (swapped atomically)."""

    decoder: DecoderLike
    language: Optional[str]
    version: str
    intent_names: tuple[str, ...] = ()
    grammar: Any = None

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language of the grammar (``zh-cn`` and ``en`` for the shipped one), ``language`` first."""
        return tuple(getattr(self.grammar, "languages", None) or ()) or ((self.language,) if self.language else ())

    @functools.cached_property
    def completion(self) -> Any:
        """The grammar's SentenceCompletion (is a recognized sentence over?), None for a grammar without a word graph."""
        if not hasattr(self.grammar, "word_graph"):
            return None
        from daemon.grammar.completion import SentenceCompletion

        return SentenceCompletion(self.grammar)

    def is_final(self, decoded: Any) -> bool:
        """True when ``decoded`` is a recognized sentence that nothing the grammar allows after it could change."""
        completion = self.completion
        return bool(getattr(decoded, "recognized", False) and completion is not None
                    and completion.is_final(str(decoded.text)))

    def intent_languages(self, intent: str) -> tuple[str, ...]:
        """The languages of the grammar data blocks of ``intent``."""
        blocks = (getattr(self.grammar, "intents", None) or {}).get(intent, ())
        return tuple(dict.fromkeys(str(getattr(b, "language", "")) for b in blocks if getattr(b, "language", "")))


@dataclass
class PipelineStats:
    """Counters for STATUS= lines and benchmarks."""

    utterances: int = 0
    intents: int = 0
    not_recognized: int = 0
    too_short: int = 0
    dropped_muted_blocks: int = 0
    last_intent: Optional[str] = None
    last_decode_ms: float = 0.0
    endpoint_reasons: dict[str, int] = field(default_factory=dict)
    early_commits: int = 0


# --------------------------------------------------------------------------------------------------------------


class CommandPipeline:
    """Feeds audio through VAD into the recognizer while speech continues; decodes at the endpoint."""

    def __init__(
        self,
        recognizer: RecognizerLike,
        grammar: Callable[[], ActiveGrammar],
        sink: EventSink,
        vad_config: VadConfig,
        site_id: str,
        *,
        detector: Optional[Callable[[bytes], bool]] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._recognizer = recognizer
        self._grammar = grammar
        self._sink = sink
        self._vad_config = vad_config
        self._site_id = site_id
        self._clock = clock
        self._segmenter = VadSegmenter(vad_config, detector)
        self._session = recognizer.create_session()
        # Two decodes ahead of the endpoint, on two worker threads (one would queue the second behind the first).
        # With early commit, a model that can snapshot its session decodes as soon as its last word is settled
        # (its trailing context, the snapshot padded with the silence the model expects after an utterance); the
        # result is published once the guard of non-speech (early_commit_after_ms) has passed without speech
        # resuming, and only when its sentence is final. A model that decodes at the end (Whisper) decodes again
        # for the endpoint after lookahead_after_ms of silence when the early sentence is not final, once the early
        # decode is done: one decode at a time. The endpoint does not reuse a non-final early decode: Whisper
        # mishears some clips cut 60 ms after the speech (a real Mandarin one rejected, a synthetic 调到四 heard
        # as 调到五) that it gets right at 150 ms. A final one that finishes after the endpoint is used there.
        worker = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="speculative-decode")
        self._worker = worker
        self._early_commit_ms = vad_config.early_commit_after_ms if vad_config.early_commit else 0
        settle_ms = int(getattr(recognizer, "trailing_context_ms", self._early_commit_ms))
        padding = int(getattr(recognizer, "end_padding_ms", 0)) * SAMPLE_RATE // 1000
        self._early = SpeculativeDecoder(functools.partial(_decode_and_judge, padding=padding),
                                         min(settle_ms, self._early_commit_ms), worker)
        endpoint_ms = vad_config.lookahead_after_ms if getattr(recognizer, "decodes_at_end", False) else 0
        self._lookahead = SpeculativeDecoder(decode_utterance, endpoint_ms, worker)
        self._lookahead_speech_end = -1
        self._early_outcome: Optional[tuple] = None  # the early decode being committed
        self._muted = False
        self._active = False  # an utterance is being fed to the session
        self._anchor_sample = 0  # absolute sample index whose wall-clock time is _anchor_time
        self._anchor_time = clock()
        self._utt_start_sample = 0
        self.stats = PipelineStats()

    # ---- control (any thread)

    @property
    def muted(self) -> bool:
        """True while audio is being ignored."""
        return self._muted

    def mute(self) -> None:
        """Ignore audio until unmute(); an utterance in progress is dropped."""
        self._muted = True

    def unmute(self) -> None:
        """Listen again."""
        self._muted = False

    @property
    def in_utterance(self) -> bool:
        """True between speech onset and endpoint."""
        return self._segmenter.in_utterance

    # ---- audio (pipeline thread only)

    def feed(self, samples: np.ndarray, capture_time: Optional[float] = None) -> list[UtteranceEvent]:
        """Process one block; ``capture_time`` is the wall-clock time of its last sample. Returns emitted events."""
        if self._muted:
            self.stats.dropped_muted_blocks += 1
            if self._active:
                self._session.reset()
                self._discard_ahead()
                _LOGGER.info("muted: utterance in progress dropped")
            self._segmenter.reset()
            self._active = False
            return []
        seen = self._segmenter.samples_seen + len(samples)  # leftover frames are not counted yet: close enough
        self._anchor_sample = seen
        self._anchor_time = capture_time if capture_time is not None else self._clock()
        out: list[UtteranceEvent] = []
        for event in self._segmenter.process(samples):
            if isinstance(event, UtteranceStart):
                self._active = True
                self._utt_start_sample = event.start_sample
                _LOGGER.debug("speech onset")
                self._session.accept_waveform(event.audio)
                self._check_model_endpoint(out)
            elif not self._active:
                continue  # the rest of an utterance already ended by the model's endpoint rules
            elif isinstance(event, UtteranceAudio):
                self._session.accept_waveform(event.audio)
                self._check_model_endpoint(out)
                self._look_ahead()
                self._check_early_commit(out)
            elif isinstance(event, UtteranceEnd):
                self._active = False
                result = self._finish(event)
                if result is not None:
                    out.append(result)
        return out

    def reset(self) -> None:
        """Forget any utterance in progress (after a crash in the pipeline thread)."""
        self._segmenter.reset()
        self._session.reset()
        self._discard_ahead()
        self._active = False

    def settle(self, timeout_s: float = 30.0) -> None:
        """Wait for the decodes running ahead of the endpoint (for callers that feed faster than real time)."""
        deadline = time.monotonic() + timeout_s
        for ahead in (self._early, self._lookahead):
            while not ahead.idle and time.monotonic() < deadline:
                time.sleep(0.001)

    def close(self) -> None:
        """Stop the look-ahead worker (a decode in progress finishes in the background)."""
        self._discard_ahead()
        self._worker.shutdown(wait=False)

    def flush(self) -> list[UtteranceEvent]:
        """End an utterance in progress (end of stream, shutdown) and decode it."""
        end = self._segmenter.force_end("end_of_stream")
        if end is None or not self._active:
            return []
        self._active = False
        result = self._finish(end)
        return [result] if result is not None else []

    def _check_model_endpoint(self, out: list[UtteranceEvent]) -> None:
        if not self._vad_config.model_endpoint or not self._active:
            return
        if self._session.endpoint_detected():
            self._active = False
            end = self._segmenter.force_end("endpoint")
            if end is not None:
                result = self._finish(end)
                if result is not None:
                    out.append(result)

    def _look_ahead(self) -> None:
        """Start decoding during the trailing silence; forget that work when speech resumes."""
        segmenter = self._segmenter
        if not self._active or not segmenter.in_utterance:
            return
        if segmenter.silence_ms == 0 or segmenter.speech_end_sample != self._lookahead_speech_end:
            self._discard_ahead()
            self._lookahead_speech_end = segmenter.speech_end_sample
        if segmenter.silence_ms > 0:
            active = self._grammar()
            early = self._early
            early.maybe_start(self._session, active, segmenter.silence_ms)
            if not early.idle:
                # One decode at a time (two at once on a small CPU halve each other's speed): the endpoint's
                # look-ahead keeps the audio up to its own delay and decodes it once the early decode is done.
                self._lookahead.maybe_start(self._session, active, segmenter.silence_ms, hold=True)
                return
            outcome = early.ready(active)
            if outcome is not None and outcome[2]:
                return  # a final sentence: committed after the guard, nothing for the endpoint to need
            self._lookahead.release()
            self._lookahead.maybe_start(self._session, active, segmenter.silence_ms)

    def _discard_ahead(self) -> None:
        self._early.discard()
        self._lookahead.discard()

    def _check_early_commit(self, out: list[UtteranceEvent]) -> None:
        """Publish now when the look-ahead decoded a complete, unambiguous command and the guard has passed."""
        segmenter = self._segmenter
        if (not self._early_commit_ms or not self._active or not segmenter.in_utterance
                or segmenter.silence_ms < self._early_commit_ms
                or segmenter.speech_end_sample != self._lookahead_speech_end):
            return
        outcome = self._early.ready(self._grammar())
        if outcome is None or not outcome[2]:
            return
        self._early_outcome = outcome
        end = segmenter.force_end("early_commit")
        self._active = False
        if end is not None:
            result = self._finish(end)
            if result is not None:
                out.append(result)

    def _endpoint_outcome(self, active: ActiveGrammar) -> Optional[tuple]:
        """What the decodes ahead of the endpoint made of the utterance: the early decode when its sentence is
        final (it would have been committed had it finished before the endpoint: waited for, as a new decode would
        take as long), else the look-ahead's."""
        outcome = self._early.take(active, wanted=lambda judged: judged[2])
        if outcome is not None:
            return outcome[:2]
        return self._lookahead.take(active)

    def _time_of(self, sample: int) -> float:
        return self._anchor_time - (self._anchor_sample - sample) / SAMPLE_RATE

    def _finish(self, end: UtteranceEnd) -> Optional[UtteranceEvent]:
        stats = self.stats
        stats.endpoint_reasons[end.reason] = stats.endpoint_reasons.get(end.reason, 0) + 1
        early, self._early_outcome = self._early_outcome, None
        if end.too_short:
            self._discard_ahead()
            stats.too_short += 1
            self._session.reset()
            _LOGGER.debug("utterance dropped: %d ms of speech is below the minimum", end.speech_ms)
            return None
        stats.utterances += 1
        t0 = time.perf_counter()
        try:
            active = self._grammar()
            ahead = None
            if early is not None:
                ahead = early[:2]
                stats.early_commits += 1
            elif end.reason == "silence" and end.speech_end_sample == self._lookahead_speech_end:
                ahead = self._endpoint_outcome(active)
            self._discard_ahead()
            result, decoded = ahead if ahead is not None else decode_utterance(self._session, active)
        finally:
            self._session.reset()
        stats.last_decode_ms = (time.perf_counter() - t0) * 1000.0
        event = self._make_event(decoded, active, end, result)
        if isinstance(event, IntentEvent):
            stats.intents += 1
            stats.last_intent = event.intent
            _LOGGER.info(
                "intent %s %s (%r, confidence %.2f, %s)", event.intent, event.slots, event.text, event.confidence,
                end.reason,
                extra={"INTENT": event.intent, "SITE_ID": self._site_id, "UTTERANCE_ID": event.utterance_id,
                       "TEXT": event.text, "CONFIDENCE": f"{event.confidence:.3f}"},
            )
            self._publish(self._sink.publish_intent, event)
        else:
            stats.not_recognized += 1
            _LOGGER.info(
                "not recognized (%s): %r, confidence %.2f", event.reason, event.text, event.confidence,
                extra={"SITE_ID": self._site_id, "UTTERANCE_ID": event.utterance_id, "TEXT": event.text,
                       "REASON": event.reason},
            )
            self._publish(self._sink.publish_not_recognized, event)
        return event

    @staticmethod
    def _publish(method: Callable[[Any], None], event: UtteranceEvent) -> None:
        try:
            method(event)
        except Exception:  # the sink's own failure must not stop listening
            _LOGGER.exception("could not hand %s %s to the event sink", type(event).__name__, event.utterance_id)

    def _make_event(self, decoded: Any, active: ActiveGrammar, end: UtteranceEnd, result: Any) -> UtteranceEvent:
        return utterance_event(decoded, active, result, site_id=self._site_id,
                               start_time=self._time_of(self._utt_start_sample),
                               end_time=self._time_of(end.speech_end_sample))


def decode_utterance(session: RecognizerSessionLike, active: ActiveGrammar) -> tuple[Any, Any]:
    """Finalize a session and decode it with the grammar in force: (recognition result, grammar result).

    The one place where recognition meets the grammar; the microphone pipeline and the Wyoming server both use it.
    """
    result = session.finalize()
    return result, active.decoder.decode_result(result)


def _decode_and_judge(session: RecognizerSessionLike, active: ActiveGrammar, padding: int = 0
                      ) -> tuple[Any, Any, bool]:
    """The early decode: ``padding`` samples of silence after a snapshot, decode_utterance, and whether its
    sentence is final (may be committed early)."""
    if padding:
        session.accept_waveform(np.zeros(padding, np.int16))
    result, decoded = decode_utterance(session, active)
    return result, decoded, active.is_final(decoded)


def utterance_event(decoded: Any, active: ActiveGrammar, result: Any, *, site_id: str, start_time: float,
                    end_time: float) -> UtteranceEvent:
    """The IntentEvent or NotRecognizedEvent of a decoded utterance (times are unix seconds)."""
    utterance_id = uuid.uuid4().hex
    # Token times are seconds from the start of the audio the recognizer saw (the pre-roll start).
    tokens = tuple(
        TokenInfo(str(unit), float(conf), s_ms / 1000.0, e_ms / 1000.0)
        for unit, s_ms, e_ms, conf in getattr(decoded, "tokens", ()) or ()
    )
    confidence = float(getattr(decoded, "confidence", 0.0))
    if getattr(decoded, "recognized", False) and getattr(decoded, "intent", None):
        # the language of what was recognised (the decoder result has none): CJK text is Chinese, else the language
        # of the intent's data blocks
        language = getattr(decoded, "language", None) or utterance_language(
            str(decoded.text), active.languages, active.intent_languages(str(decoded.intent)))
        return IntentEvent(
            site_id=site_id, utterance_id=utterance_id, intent=str(decoded.intent),
            slots=dict(decoded.slots or {}), raw_slots=dict(getattr(decoded, "raw_slots", {}) or {}),
            text=str(decoded.text), confidence=confidence, start_time=start_time, end_time=end_time,
            tokens=tokens, language=language,
        )
    text = str(getattr(decoded, "free_text", "") or getattr(result, "text", "") or "")
    reason = getattr(decoded, "reason", None) or ("no_speech" if not text.strip() else "rejected")
    return NotRecognizedEvent(
        site_id=site_id, utterance_id=utterance_id, text=text, confidence=confidence,
        start_time=start_time, end_time=end_time, reason=str(reason), tokens=tokens,
        language=utterance_language(text, active.languages),
    )


def intent_names_of(grammar: Any) -> tuple[str, ...]:
    """The intent names a grammar defines (for discovery), whatever attribute the grammar part exposes."""
    for attr in ("intent_names", "intents"):
        value = getattr(grammar, attr, None)
        if callable(value):
            value = value()
        if isinstance(value, dict):
            return tuple(sorted(value))
        if isinstance(value, (list, tuple, set, frozenset)):
            names: Sequence[Any] = list(value)
            return tuple(sorted(str(getattr(n, "name", n)) for n in names))
    return ()
