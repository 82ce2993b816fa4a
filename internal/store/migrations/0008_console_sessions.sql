-- Web console sessions: a signed-in browser holds the session's secret in
-- a cookie; only its SHA-256 is kept, with the API token it was opened
-- with (the session has that token's role, and ends with it).
CREATE TABLE console_session (
	hash TEXT PRIMARY KEY,
	token_id BIGINT NOT NULL,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX console_session_expires ON console_session(expires);
