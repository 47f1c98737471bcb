"""Streaming: how recstack processes reach the Kafka-protocol broker."""
