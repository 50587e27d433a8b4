package postgres

// DSN returns the connection string db was opened with (tests open a second "process" on it).
func DSN(db *DB) string { return db.dsn }
