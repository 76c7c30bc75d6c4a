"""The Kafka bus: the only package that imports confluent_kafka.

Client settings (TLS, SASL/SCRAM), the topic registry and admin helpers, protobuf serde,
producers and consumers, and the processing runner every service uses.
"""
