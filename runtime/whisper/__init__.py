"""Whisper encoder-decoder on ONNX Runtime: model files, grammar-constrained token search, recognizer sessions."""
