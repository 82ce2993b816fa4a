-- Where events are delivered: an HTTP endpoint, the secret its
-- deliveries are signed with (sealed with the server's secret key,
-- AES-256-GCM), and which events it takes (min_severity: a severity name
-- or ''; kinds: a JSON array, empty for all). last_delivery and
-- last_error are the latest delivery's outcome.
CREATE TABLE notification (
	id {{ID}},
	url TEXT NOT NULL,
	secret {{BLOB}} NOT NULL,
	min_severity TEXT NOT NULL DEFAULT '',
	kinds TEXT NOT NULL DEFAULT '[]',
	created BIGINT NOT NULL,
	last_delivery BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT ''
)
