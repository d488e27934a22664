"""Fixtures of the Wyoming tests: the bundled model, the shipped grammars and grammars made from HA's intents."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon import paths
from daemon.service.grammars import GrammarManager

try:
    import wyoming  # noqa: F401  (the "wyoming" extra)
except ImportError:  # pragma: no cover - a venv without the extra
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def recognizer():
    """The project's streaming WeNet model (the test clips were recorded for it; the X3's BPU default), loaded as
    ``voicecmd run`` loads a model. test_default_recognizer.py covers whatever model the CPU default is."""
    from daemon.app import build_recognizer
    from daemon.config import DaemonConfig, ModelConfig

    return build_recognizer(DaemonConfig(model=ModelConfig(dir=paths.default_wenet_model_dir())))


def _grammar(recognizer, grammar_paths):
    from daemon.app import make_grammar_builder

    manager = GrammarManager(tuple(grammar_paths), make_grammar_builder(recognizer, None), watch=False)
    manager.load_initial()
    return manager.current


@pytest.fixture(scope="session")
def shipped_grammar(recognizer):
    """``current()`` of the shipped zh + en grammars."""
    return _grammar(recognizer, [paths.default_grammar_dir()])


@pytest.fixture(scope="session")
def ha_grammar_dirs(tmp_path_factory) -> dict[str, Path]:
    """Grammars written by ``voicecmd grammar from-ha-intents`` for the test homes (en, zh-cn)."""
    pytest.importorskip("home_assistant_intents")
    from daemon.cli import main

    data = Path(__file__).resolve().parent / "data"
    out = {}
    for language, home in (("en", "home_en.yaml"), ("zh-cn", "home_zh.yaml")):
        target = tmp_path_factory.mktemp(f"ha-{language}")
        assert main(["grammar", "from-ha-intents", "--language", language, "--entities", str(data / home),
                     "-o", str(target)]) == 0
        out[language] = target
    return out


@pytest.fixture(scope="session")
def ha_grammar(recognizer, ha_grammar_dirs):
    """``current()`` of both HA-made grammars together."""
    return _grammar(recognizer, [ha_grammar_dirs["en"], ha_grammar_dirs["zh-cn"]])
