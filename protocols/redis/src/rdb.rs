//! DUMP/RESTORE payloads in the RDB format of Redis 7.
