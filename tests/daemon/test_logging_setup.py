"""Log routing: journald (with structured fields) only when stderr really is the journal stream, stderr otherwise."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pytest

from daemon.config import LoggingConfig, VadConfig
from daemon.pipeline import ActiveGrammar, CommandPipeline
from daemon.service import logging_setup
from tests.daemon.fakes import RecordingSink, ScriptedDecoder, ScriptedRecognizer
from tests.daemon.speech import synth_samples


@pytest.fixture
def restore_root_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_journal_stream_must_match_stderr_and_the_socket_must_exist(tmp_path, monkeypatch):
    st = os.fstat(sys.stderr.fileno())
    monkeypatch.setattr(logging_setup, "JOURNAL_SOCKET", tmp_path / "socket")
    env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    assert not logging_setup.running_under_journald(env)  # no journal socket
    (tmp_path / "socket").touch()
    assert logging_setup.running_under_journald(env)
    assert not logging_setup.running_under_journald({"JOURNAL_STREAM": "1:2"})  # stderr redirected elsewhere
    assert not logging_setup.running_under_journald({})


def test_stderr_without_systemd(restore_root_logging, monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    assert logging_setup.setup_logging(LoggingConfig(level="warning")) == "stderr"
    assert logging.getLogger().level == logging.WARNING
    assert logging_setup.setup_logging(LoggingConfig(), debug=True) == "stderr"
    assert logging.getLogger().level == logging.DEBUG


def test_journal_target_uses_the_journal_handler(restore_root_logging):
    from systemd.journal import JournalHandler

    assert logging_setup.setup_logging(LoggingConfig(target="journal")) == "journal"
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, JournalHandler)


def test_intent_log_records_carry_journal_fields(caplog):
    sink = RecordingSink()
    active = ActiveGrammar(decoder=ScriptedDecoder(), language="en", version="v1")
    pipeline = CommandPipeline(ScriptedRecognizer(), lambda: active, sink, VadConfig(), "attic")
    samples = np.concatenate([synth_samples("turn on the kitchen light"), np.zeros(16000, np.int16)])
    with caplog.at_level(logging.INFO, logger="daemon.pipeline"):
        for i in range(0, len(samples), 480):
            pipeline.feed(samples[i : i + 480])
    [record] = [r for r in caplog.records if getattr(r, "INTENT", None)]
    assert record.INTENT == "light_on" and record.SITE_ID == "attic"
    assert record.UTTERANCE_ID == sink.intents[0].utterance_id
