//! Redis front-end: RESP2/RESP3, the data types, keyspace on shard objects.
