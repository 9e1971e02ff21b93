SELECT verdict_code, CASE WHEN verdict_code = 0 THEN next_offset - ?1 ELSE verdict_dup END
FROM log
