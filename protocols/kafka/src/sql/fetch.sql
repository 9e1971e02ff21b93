SELECT base_offset, data FROM batches
WHERE last_offset >= ?1 AND base_offset < ?2
ORDER BY last_offset
LIMIT ?3
