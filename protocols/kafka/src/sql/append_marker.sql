INSERT INTO batches (base_offset, last_offset, max_timestamp, producer_id, producer_epoch, base_sequence, last_sequence, size, data)
SELECT next_offset, next_offset, ?3, ?1, ?2, -1, -1, length(?4), ?4 FROM log
