"""GrammarManager: atomic swap on success, old grammar kept (and the error reported) on failure, mtime watching."""

from __future__ import annotations

import threading
import time

import pytest

from daemon.errors import GrammarError
from daemon.grammar import load_grammar
from daemon.pipeline import ActiveGrammar, intent_names_of
from daemon.service.grammars import GrammarManager, expand_grammar_paths, grammar_version

GOOD = "language: en\nintents:\n  {name}:\n    data:\n      - sentences:\n          - \"turn {{what}} on\"\n" \
       "lists:\n  what:\n    values: [light, fan]\n"


def build(paths):
    grammar = load_grammar(list(paths))
    return ActiveGrammar(decoder=None, language=grammar.language, version=grammar_version(paths),
                         intent_names=intent_names_of(grammar), grammar=grammar)


@pytest.fixture
def grammar_file(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(GOOD.format(name="TurnOn"))
    return path


def test_reload_swaps_and_reports(grammar_file):
    swaps, errors = [], []
    manager = GrammarManager((grammar_file,), build, on_swap=swaps.append, on_error=errors.append)
    first = manager.load_initial()
    assert first.intent_names == ("TurnOn",) and first.grammar.parse("turn fan on").intent == "TurnOn"
    grammar_file.write_text(GOOD.format(name="SwitchOn"))
    assert manager.reload_now("test")
    assert manager.current().intent_names == ("SwitchOn",) and swaps == [manager.current()] and errors == []
    assert manager.current().version != first.version


def test_broken_grammar_keeps_the_old_one(grammar_file):
    errors = []
    manager = GrammarManager((grammar_file,), build, on_error=errors.append)
    old = manager.load_initial()
    grammar_file.write_text("intents:\n  X:\n    data:\n      - sentences: [\"turn {missing} on\"]\n")
    assert not manager.reload_now("SIGHUP")
    assert manager.current() is old
    [message] = errors
    assert message.startswith(f"grammar reload (SIGHUP) rejected, keeping version {old.version}: ")
    assert str(grammar_file) in message and "missing" in message


def test_initial_failure_raises(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("intents: [\n")
    with pytest.raises(GrammarError, match="bad.yaml"):
        GrammarManager((bad,), build).load_initial()


def test_worker_picks_up_file_changes_and_requests(grammar_file):
    manager = GrammarManager((grammar_file,), build, watch=True, watch_interval_s=0.05)
    manager.load_initial()
    stop = threading.Event()
    worker = threading.Thread(target=manager.run_worker, args=(stop,))
    worker.start()
    try:
        time.sleep(0.1)
        grammar_file.write_text(GOOD.format(name="Edited"))
        deadline = time.monotonic() + 5
        while manager.current().intent_names != ("Edited",) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert manager.current().intent_names == ("Edited",)
        reloads = manager.reloads
        manager.request_reload("mqtt")
        deadline = time.monotonic() + 5
        while manager.reloads == reloads and time.monotonic() < deadline:
            time.sleep(0.02)
        assert manager.reloads == reloads + 1
    finally:
        stop.set()
        manager.wake()
        worker.join(2)
    assert not worker.is_alive()


def test_language_directories_expand(tmp_path):
    for lang in ("en", "zh"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "a.yaml").write_text("x: 1\n")
    assert expand_grammar_paths([tmp_path]) == (tmp_path / "en", tmp_path / "zh")
    assert expand_grammar_paths([tmp_path / "en"]) == (tmp_path / "en",)
