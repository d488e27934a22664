"""paho_compat against a real broker: one constructor, version-independent callbacks, isolated handler errors."""

from __future__ import annotations

import threading
import time

import paho.mqtt

from daemon.mqtt import paho_compat


def test_client_and_callbacks_work_and_a_raising_handler_does_not_kill_the_thread(broker):
    events: list[tuple] = []
    done = threading.Event()

    def on_message(topic, payload, retained):
        events.append(("message", topic, payload, retained))
        if payload == b"boom":
            raise RuntimeError("handler bug")
        if payload == b"last":
            done.set()

    client = paho_compat.make_client("compat-test")
    connected = threading.Event()
    subscribed = threading.Event()
    paho_compat.install_callbacks(
        client,
        on_connect=lambda ok, reason: (events.append(("connect", ok, reason)), connected.set()),
        on_disconnect=lambda reason: events.append(("disconnect", reason)),
        on_message=on_message,
        on_publish=lambda mid: events.append(("publish", mid)),
        on_subscribe=lambda mid: subscribed.set(),
    )
    client.connect_async("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert connected.wait(5) and events[0][:2] == ("connect", True)
        client.subscribe("compat/#", qos=1)
        assert subscribed.wait(5)
        mids = [client.publish("compat/x", p, qos=1).mid for p in (b"boom", b"after", b"last")]
        assert done.wait(5)
        thread = paho_compat.network_thread(client)
        assert thread is not None and thread.is_alive()
        assert [e[2] for e in events if e[0] == "message"] == [b"boom", b"after", b"last"]
        deadline = time.monotonic() + 5
        while not {e[1] for e in events if e[0] == "publish"} >= set(mids):  # PUBACKs may trail the deliveries
            assert time.monotonic() < deadline, events
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    assert events[-1] == ("disconnect", "clean")
    assert paho_compat.PAHO_VERSION == paho.mqtt.__version__
    assert paho_compat.PAHO_V2 == paho.mqtt.__version__.startswith("2.")
