"""archive: the special records (专门档案): append-only, hash-chained, readable by officials."""
