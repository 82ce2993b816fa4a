-- Image policies (docs/policy.md): every PUT is a new version; the
-- highest version is in force. verdict_log records every decision an
-- enforcement point made: where, about which image, by which policy
-- version and rule (policy_version 0: the built-in policy, none stored).
CREATE TABLE policy (
	version {{ID}},
	name TEXT NOT NULL DEFAULT '',
	digest TEXT NOT NULL,
	text TEXT NOT NULL,
	created BIGINT NOT NULL
);
CREATE TABLE verdict_log (
	id {{ID}},
	at BIGINT NOT NULL,
	point TEXT NOT NULL,
	image TEXT NOT NULL,
	digest TEXT NOT NULL DEFAULT '',
	namespace TEXT NOT NULL DEFAULT '',
	host TEXT NOT NULL DEFAULT '',
	policy_version BIGINT NOT NULL,
	action TEXT NOT NULL,
	rule TEXT NOT NULL,
	reason TEXT NOT NULL,
	findings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX verdict_log_at ON verdict_log(at);
CREATE INDEX verdict_log_digest ON verdict_log(digest, at);
