"""Test helpers shared by several parts' tests (real brokers, subscribers)."""
