"""Audio input: microphone (PyAudio), WAV files and raw PCM, all delivered as 16 kHz mono int16."""
