INSERT INTO producers (producer_id, producer_epoch, last_sequence) VALUES (?1, ?2, -1)
ON CONFLICT (producer_id) DO UPDATE SET
    producer_epoch = excluded.producer_epoch,
    last_sequence = CASE WHEN producers.producer_epoch = excluded.producer_epoch THEN producers.last_sequence ELSE -1 END
WHERE excluded.producer_epoch >= producers.producer_epoch
