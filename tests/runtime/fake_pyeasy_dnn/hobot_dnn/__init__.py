"""Test double of the board's hobot_dnn package (only pyeasy_dnn)."""
