"""Wyoming protocol server: voicecmd as Home Assistant Assist's speech-to-text and intent service.

``server.WyomingServer`` accepts connections (one ``handler.WyomingHandler`` each), ``session`` turns Wyoming
audio into recognizer sessions decoded with the grammar in force, ``protocol`` reads events with size limits, and
``discovery`` advertises ``_wyoming._tcp`` over zeroconf. PyPI ``wyoming`` and ``zeroconf`` are imported only here.
"""
