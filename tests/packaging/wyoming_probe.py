"""Run with a target Python against the package's files: import the vendored wyoming, zeroconf and ifaddr the way
/usr/bin/voicecmd sets the path up, pack and parse an mDNS answer with zeroconf's compiled code (no socket), list the
interfaces with ifaddr (through daemon.wyoming.discovery); print what was found as JSON.

Usage: python3 [-S] wyoming_probe.py [ROOT]   (ROOT: where the package's files are, default / for an installed one)
"""

import json
import sys

PRIVATE_LIB = sys.argv[1].rstrip("/") + "/usr/lib/voicecmd" if len(sys.argv) > 1 else "/usr/lib/voicecmd"
sys.path[0:0] = [PRIVATE_LIB, "%s/vendor/python%d.%d" % (PRIVATE_LIB, sys.version_info[0], sys.version_info[1])]

import ifaddr  # noqa: E402
import wyoming.server  # noqa: E402
import zeroconf  # noqa: E402
import zeroconf._dns  # noqa: E402
from wyoming.version import __version__ as wyoming_version  # noqa: E402
from zeroconf import DNSIncoming, DNSOutgoing, ServiceInfo, const  # noqa: E402

from daemon.wyoming.discovery import SERVICE_TYPE, local_addresses  # noqa: E402

info = ServiceInfo(SERVICE_TYPE, "voicecmd-probe." + SERVICE_TYPE, port=10300, addresses=[bytes([127, 0, 0, 1])],
                   server="voicecmd-probe.local.")
packet = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
packet.add_answer_at_time(info.dns_service(), 0)
answer = DNSIncoming(packet.packets()[0]).answers()[0]
print(json.dumps({
    "files": {module.__name__: module.__file__ for module in (wyoming.server, zeroconf, zeroconf._dns, ifaddr)},
    "versions": {"wyoming": wyoming_version, "zeroconf": zeroconf.__version__},
    "answer_port": answer.port,
    "addresses": local_addresses("0.0.0.0"),
}))
