INSERT INTO producers (producer_id, producer_epoch, last_sequence)
SELECT ?1, ?2, ?3 FROM log WHERE verdict_code = 0 AND ?1 >= 0
ON CONFLICT (producer_id) DO UPDATE SET producer_epoch = excluded.producer_epoch, last_sequence = excluded.last_sequence
