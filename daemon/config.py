"""The daemon's settings tree: /etc/voicecmd/config.yaml validated into frozen dataclasses (parsed once, at the edge)."""

from __future__ import annotations

import dataclasses
import logging
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from daemon.errors import ConfigError

_LOGGER = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/voicecmd/config.yaml")
SAMPLE_RATE = 16000


def _spec(default: Any, *, lo: float | None = None, hi: float | None = None, choices: tuple = (), doc: str = ""):
    """A dataclass field with validation metadata (range, allowed values)."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "choices": choices, "doc": doc})


# --------------------------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class AudioConfig:
    """Where audio comes from: microphone (PyAudio), a WAV file/directory, or raw s16le PCM on stdin."""

    source: str = _spec("microphone", choices=("microphone", "wav", "stdin"))
    device: Optional[Union[int, str]] = None  # PyAudio index or a substring of the device name; None = default input
    input_rate: Optional[int] = _spec(None, lo=8000, hi=192000)  # force a capture rate (resampled to 16 kHz)
    frames_per_buffer: int = _spec(480, lo=80, hi=16000)
    wav_path: Optional[Path] = None
    realtime: bool = True  # pace WAV input like a live microphone
    gap_s: float = _spec(1.0, lo=0.0, hi=60.0)  # silence inserted between/after WAV files so the VAD endpoints
    at_end: str = _spec("exit", choices=("exit", "idle"))  # what to do when a WAV/stdin source is exhausted
    reopen_min_s: float = _spec(0.5, lo=0.01, hi=60.0)
    reopen_max_s: float = _spec(30.0, lo=0.1, hi=3600.0)
    queue_s: float = _spec(2.0, lo=0.1, hi=60.0)  # bounded audio queue length; the oldest audio is dropped

    def __post_init__(self) -> None:
        if self.source == "wav" and self.wav_path is None:
            raise ConfigError("audio.wav_path: required when audio.source is 'wav'")
        if self.reopen_max_s < self.reopen_min_s:
            raise ConfigError("audio.reopen_max_s: must be >= audio.reopen_min_s")

    @property
    def needs_resampling(self) -> bool:
        """True when capture runs at a rate other than 16 kHz."""
        return self.input_rate is not None and self.input_rate != SAMPLE_RATE


@dataclass(frozen=True)
class VadConfig:
    """webrtcvad gating and utterance endpointing."""

    aggressiveness: int = _spec(2, lo=0, hi=3)
    frame_ms: int = _spec(30, choices=(10, 20, 30))
    preroll_ms: int = _spec(300, lo=0, hi=2000)
    onset_ms: int = _spec(90, lo=10, hi=1000)  # continuous speech needed to start an utterance
    min_speech_ms: int = _spec(250, lo=0, hi=5000)  # shorter utterances are dropped as noise
    trailing_silence_ms: int = _spec(500, lo=90, hi=5000)
    # Inside an utterance a frame this far below the loudest voiced frame counts as silence even when webrtcvad
    # still says speech: its ~100 ms hangover would otherwise delay every endpoint. None disables the gate.
    silence_below_peak_db: Optional[float] = _spec(40.0, lo=10.0, hi=90.0)
    max_utterance_s: float = _spec(8.0, lo=1.0, hi=10.0)
    model_endpoint: bool = True  # let WeNet's endpoint rules end an utterance too
    # Decode in the background once this much trailing silence has passed (models that decode at the end,
    # i.e. Whisper): the intent is ready when trailing_silence_ms is reached. 0 disables the look-ahead.
    lookahead_after_ms: int = _spec(150, lo=0, hi=5000)
    # Early commit: publish as soon as the decoded sentence is a recognized command that nothing the grammar lets
    # follow could change and this much non-speech followed it, instead of waiting for trailing_silence_ms.
    # (The decode itself starts earlier, once the model's last word is settled.) Real speakers pause inside
    # commands: see docs/model.md for how the guard was measured.
    early_commit: bool = True
    early_commit_after_ms: int = _spec(200, lo=30, hi=5000)


@dataclass(frozen=True)
class ModelConfig:
    """The acoustic model: directory, backend and decoding settings."""

    dir: Optional[Path] = None  # None = the bundled model (daemon.paths.default_model_dir())
    backend: str = _spec("auto", choices=("auto", "onnx", "bpu-onnx", "bpu"))
    threads: int = _spec(1, lo=1, hi=16)
    # Whisper's encoder (once per utterance, nothing else decoding meanwhile); None = every core up to 4.
    encoder_threads: Optional[int] = _spec(None, lo=1, hi=16)
    beam: int = _spec(1, lo=1, hi=100)


@dataclass(frozen=True)
class GrammarConfig:
    """Command grammars: files or directories, rejection threshold, and whether to watch them for changes."""

    paths: tuple[Path, ...] = ()  # empty = the shipped grammars (daemon.paths.default_grammar_dir())
    reject_threshold: Optional[float] = _spec(None, lo=-1e6, hi=1e6)  # None = the decoder's measured default
    watch: bool = True
    watch_interval_s: float = _spec(2.0, lo=0.1, hi=3600.0)


@dataclass(frozen=True)
class ServiceConfig:
    """Identity and systemd integration."""

    site_id: str = "default"
    state_dir: Path = Path("/var/lib/voicecmd")
    watchdog: bool = True  # ping WATCHDOG=1 (only while audio frames arrive) when systemd asks for it
    stall_timeout_s: float = _spec(2.0, lo=0.1, hi=600.0)  # no audio frame for this long = deaf
    max_restarts: int = _spec(5, lo=0, hi=1000)  # per component within restart_window_s, then exit non-zero
    restart_window_s: float = _spec(60.0, lo=1.0, hi=86400.0)

    def __post_init__(self) -> None:
        if not self.site_id or any(ch in self.site_id for ch in "/#+ \t\n"):
            raise ConfigError(f"service.site_id: {self.site_id!r} must be non-empty without '/', '#', '+' or spaces")


@dataclass(frozen=True)
class LoggingConfig:
    """Log level and destination (journald under systemd, stderr otherwise)."""

    level: str = _spec("info", choices=("debug", "info", "warning", "error"))
    target: str = _spec("auto", choices=("auto", "journal", "stderr"))


@dataclass(frozen=True)
class WyomingConfig:
    """Wyoming protocol server for Home Assistant Assist (speech-to-text and intent recognition); off by default."""

    enabled: bool = False
    uri: str = "tcp://0.0.0.0:10300"  # tcp://HOST:PORT or unix:///path/to/socket
    zeroconf: bool = True  # advertise _wyoming._tcp so Home Assistant discovers the server (tcp only)
    zeroconf_name: Optional[str] = None  # service instance name; None = voicecmd-<site_id>
    max_connections: int = _spec(16, lo=1, hi=1024)
    max_audio_s: float = _spec(30.0, lo=1.0, hi=600.0)  # audio in one transcription before it is refused
    idle_timeout_s: float = _spec(60.0, lo=1.0, hi=86400.0)  # a connection silent this long is closed
    max_event_bytes: int = _spec(1048576, lo=4096, hi=67108864)  # largest event payload (audio chunk) accepted
    workers: int = _spec(2, lo=1, hi=64)  # threads running recognition for all connections
    # Whisper: decode after this much trailing silence, before audio-stop (0 = off). As the microphone pipeline's
    # vad.lookahead_after_ms: 150 ms gives the same accuracy on real speech as decoding at the end; 60 ms does
    # not (Whisper mishears some utterances cut that close). The client's VAD waits ~0.7 s before audio-stop.
    lookahead_after_ms: int = _spec(150, lo=0, hi=5000)
    publish_intents: bool = True  # transcriptions also go out on MQTT (intent / not_recognized) like any other

    def __post_init__(self) -> None:
        from urllib.parse import urlparse

        parsed = urlparse(self.uri)
        if parsed.scheme == "tcp":
            try:
                port = parsed.port
            except ValueError:
                port = None
            if not parsed.hostname or port is None:
                raise ConfigError(f"wyoming.uri: {self.uri!r}: give tcp://HOST:PORT")
        elif parsed.scheme != "unix" or not parsed.path:
            raise ConfigError(f"wyoming.uri: {self.uri!r}: expected tcp://HOST:PORT or unix:///path")


@dataclass(frozen=True)
class DaemonConfig:
    """The whole configuration; ``mqtt`` is None when no broker is configured (events go to stdout)."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    grammar: GrammarConfig = field(default_factory=GrammarConfig)
    mqtt: Optional[Any] = None  # daemon.mqtt.config.MqttConfig
    service: ServiceConfig = field(default_factory=ServiceConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    wyoming: WyomingConfig = field(default_factory=WyomingConfig)


_SECTIONS: dict[str, type] = {
    "audio": AudioConfig,
    "vad": VadConfig,
    "model": ModelConfig,
    "grammar": GrammarConfig,
    "service": ServiceConfig,
    "logging": LoggingConfig,
    "wyoming": WyomingConfig,
}
# Accepted spellings of a section (the issue calls the model section "asr").
_SECTION_ALIASES = {"asr": "model"}


# --------------------------------------------------------------------------------------------------------------
# Generic validation of one section


def _type_name(tp: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true/false", str: "a string", Path: "a path"}
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in args)
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0]).replace('a ', '').replace('an ', '')}s"
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML value to the annotated type or raise ConfigError naming ``where``."""
    origin = typing.get_origin(tp)
    if origin is Union:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is tuple:
        if isinstance(value, (str, Path)):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        item_type = typing.get_args(tp)[0]
        return tuple(_convert(item, item_type, f"{where}[{i}]") for i, item in enumerate(value))
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is Path:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
    elif tp is Any:
        return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def _section_from_dict(cls: type, data: Any, path: str) -> Any:
    """Build the dataclass ``cls`` from a mapping; unknown keys, wrong types and ranges name their path."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of settings, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, raw in data.items():
        where = f"{path}.{key}"
        if not isinstance(key, str) or key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: unknown key (known: {known})")
        value = _convert(raw, hints[key], where)
        meta = fields[key].metadata
        if value is not None and meta:
            if meta.get("choices") and value not in meta["choices"]:
                allowed = ", ".join(repr(c) for c in meta["choices"])
                raise ConfigError(f"{where}: {value!r} is not one of {allowed}")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if meta.get("lo") is not None and value < meta["lo"]:
                    raise ConfigError(f"{where}: {raw!r} is below the minimum {meta['lo']:g}")
                if meta.get("hi") is not None and value > meta["hi"]:
                    raise ConfigError(f"{where}: {raw!r} is above the maximum {meta['hi']:g}")
        kwargs[key] = value
    return cls(**kwargs)


# --------------------------------------------------------------------------------------------------------------
# Whole file


def _mqtt_from_dict(data: Any) -> Any:
    """Delegate the ``mqtt`` section to the MQTT part's own validated dataclass."""
    if data is None or data is False:
        return None
    from daemon.mqtt.config import MqttConfig  # the MQTT part owns its schema

    if data is True:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"mqtt: expected a mapping of settings, got {data!r}")
    return MqttConfig.from_dict(dict(data), path="mqtt")


def config_from_dict(data: Any) -> DaemonConfig:
    """Validate a parsed YAML document into a DaemonConfig (raises ConfigError naming the key path)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"top level: expected a mapping of sections, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = _SECTION_ALIASES.get(key, key) if isinstance(key, str) else key
        if name == "mqtt":
            kwargs["mqtt"] = _mqtt_from_dict(value)
        elif name in _SECTIONS:
            if name in kwargs:
                raise ConfigError(f"{key}: section given twice (also as {name!r})")
            kwargs[name] = _section_from_dict(_SECTIONS[name], value, str(key))
        else:
            known = ", ".join(sorted([*_SECTIONS, "mqtt"]))
            raise ConfigError(f"{key}: unknown section (known: {known})")
    return DaemonConfig(**kwargs)


def _key_lines(node: Any, prefix: str, out: dict[str, int]) -> None:
    """Record the 1-based line of every mapping key path in a composed YAML node tree."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out.setdefault(key, key_node.start_mark.line + 1)
            _key_lines(value_node, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}[{i}]"
            out.setdefault(key, item.start_mark.line + 1)
            _key_lines(item, key, out)


def _line_of(message: str, lines: dict[str, int]) -> int | None:
    """The line of the longest key path the error message starts with."""
    where = message.split(":", 1)[0]
    while where:
        if where in lines:
            return lines[where]
        where = where.rsplit(".", 1)[0] if "." in where else ""
    return None


def _resolve_relative_paths(config: DaemonConfig, base: Path) -> DaemonConfig:
    """Make relative paths in a config file relative to the file's directory."""

    def fix(p: Optional[Path]) -> Optional[Path]:
        return p if p is None or p.is_absolute() else base / p

    return dataclasses.replace(
        config,
        audio=dataclasses.replace(config.audio, wav_path=fix(config.audio.wav_path)),
        model=dataclasses.replace(config.model, dir=fix(config.model.dir)),
        grammar=dataclasses.replace(config.grammar, paths=tuple(fix(p) for p in config.grammar.paths)),
        service=dataclasses.replace(config.service, state_dir=fix(config.service.state_dir)),
    )


def load_config(path: str | Path) -> DaemonConfig:
    """Read and validate a YAML config file; errors are ``file:line[:column]: key.path: problem``."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is None:
            raise ConfigError(f"{path}: {problem}") from None
        raise ConfigError(f"{path}:{mark.line + 1}:{mark.column + 1}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    lines: dict[str, int] = {}
    if node is not None:
        _key_lines(node, "", lines)
    try:
        return _resolve_relative_paths(config_from_dict(data), path.resolve().parent)
    except ConfigError as exc:
        message = str(exc)
        line = _line_of(message, lines)
        raise ConfigError(f"{path}:{line}: {message}" if line else f"{path}: {message}") from None
    except (TypeError, ValueError) as exc:  # a dataclass __post_init__ in another part
        raise ConfigError(f"{path}: {exc}") from None
