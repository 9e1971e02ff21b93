SELECT verdict.code, CASE WHEN verdict.code = 0 THEN log.next_offset - ?1 ELSE verdict.dup_offset END
FROM verdict, log
