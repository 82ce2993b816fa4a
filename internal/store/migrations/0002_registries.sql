-- Registries the server sweeps. secret is the credentials sealed with the
-- server's secret key (AES-256-GCM; NULL when none); repositories and
-- tags are JSON arrays of globs. next_sweep is when the schedule next
-- asks for a sweep (0: only on demand); last_audit and last_stats are
-- JSON of the latest sweep.
CREATE TABLE registry (
	id {{ID}},
	url TEXT NOT NULL,
	secret {{BLOB}},
	plain_http INTEGER NOT NULL DEFAULT 0,
	insecure INTEGER NOT NULL DEFAULT 0,
	repositories TEXT NOT NULL DEFAULT '[]',
	tags TEXT NOT NULL DEFAULT '[]',
	latest INTEGER NOT NULL DEFAULT 0,
	schedule TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL,
	next_sweep BIGINT NOT NULL DEFAULT 0,
	last_sweep BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	last_audit TEXT NOT NULL DEFAULT '',
	last_stats TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registry_next_sweep ON registry(next_sweep);
