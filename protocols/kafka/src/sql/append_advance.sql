UPDATE log SET next_offset = next_offset + ?1 WHERE verdict_code = 0
