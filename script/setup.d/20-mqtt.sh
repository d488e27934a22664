#!/usr/bin/env bash
# MQTT test set-up (owner: MQTT part). Idempotent; fast when already done.
#  - rhasspy-hermes (to parse our Hermes payloads with the reference classes): its PyPI release pins
#    paho-mqtt==1.5.0 and dataclasses-json==0.5.6, so install it --no-deps plus what its message classes import.
#  - paho-mqtt 1.6.1 (the Debian/Ubuntu version) in .venv-paho16 for the paho-1.x run of the MQTT tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

for venv in .venv .venv310; do
  py=$venv/bin/python
  [ -x "$py" ] || continue
  if ! "$py" -c 'import rhasspyhermes.nlu, dataclasses_json' 2>/dev/null; then
    "$py" -m pip install -q --no-deps 'rhasspy-hermes==0.6.2'
    "$py" -m pip install -q 'dataclasses-json>=0.5.7,<0.7'
  fi
done

if ! [ -f .venv-paho16/paho/mqtt/__init__.py ] || ! grep -q '"1.6.1"' .venv-paho16/paho/mqtt/__init__.py; then
  rm -rf .venv-paho16
  .venv/bin/python -m pip install -q --no-deps --target .venv-paho16 'paho-mqtt==1.6.1'
fi
echo "20-mqtt: rhasspy-hermes and paho-mqtt 1.6.1 (.venv-paho16) ready"
