-- The vulnerability database every worker matches against: one row
-- (id 1) describing the current vuln.db file, whose bytes are in
-- vulndb_chunk in order of seq, keyed by the file's SHA-256 so that a
-- reader never mixes two files.
CREATE TABLE vulndb (
	id INTEGER PRIMARY KEY,
	generation BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	size BIGINT NOT NULL,
	chunks INTEGER NOT NULL,
	published BIGINT NOT NULL
);

CREATE TABLE vulndb_chunk (
	sha256 TEXT NOT NULL,
	seq INTEGER NOT NULL,
	data {{BLOB}} NOT NULL,
	PRIMARY KEY (sha256, seq)
);
