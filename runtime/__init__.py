"""Speech runtime: fbank front end, WeNet model backends (ONNX Runtime, X3 BPU) and CTC search.

This package never imports the service (``daemon``), YAML or MQTT code.
"""
