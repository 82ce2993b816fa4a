-- What changed in an image's findings: a finding that appeared (kind new)
-- or went away (resolved) when the vulnerability database changed (reason
-- rematch) or on a rescan (reason rescan). batch groups the events of one
-- job, as notifications deliver them; generation is the vulnerability
-- database's; severity_rank is the severity's rank + 1 (0: none).
CREATE TABLE event (
	id {{ID}},
	digest TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	class TEXT NOT NULL,
	advisory TEXT NOT NULL,
	aliases TEXT NOT NULL DEFAULT '[]',
	title TEXT NOT NULL DEFAULT '',
	package TEXT NOT NULL DEFAULT '',
	version TEXT NOT NULL DEFAULT '',
	package_type TEXT NOT NULL DEFAULT '',
	purl TEXT NOT NULL DEFAULT '',
	fixed_version TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	severity_rank INTEGER NOT NULL DEFAULT 0,
	reason TEXT NOT NULL,
	generation BIGINT NOT NULL DEFAULT 0,
	scan_id BIGINT,
	batch TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);
CREATE INDEX event_created ON event(created);
CREATE INDEX event_digest ON event(digest, id);
CREATE INDEX event_batch ON event(batch, id);

-- matched_generation is the vulnerability database generation a scan's
-- findings are current with (0: unknown); rematch_of, for a scan row a
-- re-match made, the scan whose inventory it matched again.
ALTER TABLE scan ADD COLUMN matched_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scan ADD COLUMN rematch_of BIGINT;
