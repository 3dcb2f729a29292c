"""Test support: the real embedded infrastructure, the running stack, Kafka readers."""
