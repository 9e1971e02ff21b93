UPDATE log SET next_offset = next_offset + ?1 WHERE (SELECT code FROM verdict) = 0
