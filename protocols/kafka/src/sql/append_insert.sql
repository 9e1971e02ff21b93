INSERT INTO batches (base_offset, last_offset, max_timestamp, producer_id, producer_epoch, base_sequence, last_sequence, size, data)
SELECT next_offset, next_offset + ?5 - 1, ?6, ?1, ?2, ?3, ?4, length(?7), ?7
FROM log WHERE verdict_code = 0
