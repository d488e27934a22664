"""A child process running an MqttLink (for crash tests and the paho 1.6 run): prints JSON lines on progress.

    python -m tests.mqtt.link_child --port P --state-dir D [--count N] [--site S] [--hold]

Starts a link, queues ``count`` intents, prints {"paho": version, "queued": n, "connected": bool, ...}, then with
``--hold`` waits (until killed) or otherwise stops the link cleanly and prints {"stopped": ..., "queued": n}."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import paho.mqtt

from daemon.mqtt.config import MqttConfig
from daemon.mqtt.link import MqttLink
from tests.mqtt.factories import make_intent


def main() -> int:
    """Run the link as told by the command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--site", default="kitchen")
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--wait-connected", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(threadName)s %(levelname)s %(message)s")
    cfg = MqttConfig.from_dict({"host": "127.0.0.1", "port": args.port, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5})
    link = MqttLink(cfg, args.site, args.state_dir, None)
    link.start()
    connected = link.wait_connected(args.wait_connected) if args.wait_connected else link.connected
    for i in range(args.count):
        link.publish_intent(make_intent(i, site_id=args.site))
    print(json.dumps({"paho": paho.mqtt.__version__, "queued": link.queued, "connected": connected}), flush=True)
    if args.hold:
        while True:
            time.sleep(1)
    link.stop(timeout=5.0)
    print(json.dumps({"stopped": True, "queued": link.queued}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
