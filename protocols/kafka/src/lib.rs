//! Kafka front-end: broker wire protocol on partition objects.
