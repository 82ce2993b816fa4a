-- Images by manifest digest (or image ID for local images without one):
-- the latest scan's summary, and the worst severity per finding class as
-- rank + 1 (0: no finding of the class), so filters are plain comparisons.
CREATE TABLE image (
	digest TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	source TEXT NOT NULL DEFAULT '',
	os TEXT NOT NULL DEFAULT '',
	architecture TEXT NOT NULL DEFAULT '',
	first_scanned BIGINT NOT NULL,
	last_scanned BIGINT NOT NULL,
	last_scan BIGINT NOT NULL,
	packages INTEGER NOT NULL DEFAULT 0,
	findings INTEGER NOT NULL DEFAULT 0,
	incomplete INTEGER NOT NULL DEFAULT 0,
	summary TEXT NOT NULL DEFAULT '{}',
	worst INTEGER NOT NULL DEFAULT 0,
	worst_vulnerability INTEGER NOT NULL DEFAULT 0,
	worst_malware INTEGER NOT NULL DEFAULT 0,
	worst_secret INTEGER NOT NULL DEFAULT 0,
	worst_misconfiguration INTEGER NOT NULL DEFAULT 0,
	worst_registry INTEGER NOT NULL DEFAULT 0,
	worst_integrity INTEGER NOT NULL DEFAULT 0,
	worst_archive INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX image_last_scanned ON image(last_scanned);
CREATE INDEX image_worst ON image(worst);

-- Where an image was seen: a registry repository and tag, or a host's
-- engine (source docker, containerd, podman) with the name it has there.
-- removed_at is set when the image left that place.
CREATE TABLE image_ref (
	id {{ID}},
	digest TEXT NOT NULL,
	source TEXT NOT NULL,
	host TEXT NOT NULL DEFAULT '',
	repository TEXT NOT NULL DEFAULT '',
	tag TEXT NOT NULL DEFAULT '',
	registry_id BIGINT,
	first_seen BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	removed_at BIGINT,
	UNIQUE (source, host, repository, tag, digest)
);
CREATE INDEX image_ref_digest ON image_ref(digest);
CREATE INDEX image_ref_repository ON image_ref(repository, tag);

-- Every scan of a digest, with its whole report (gzip JSON).
CREATE TABLE scan (
	id {{ID}},
	job_id BIGINT,
	digest TEXT NOT NULL,
	input TEXT NOT NULL,
	source TEXT NOT NULL DEFAULT '',
	worker TEXT NOT NULL DEFAULT '',
	started BIGINT NOT NULL,
	finished BIGINT NOT NULL,
	summary TEXT NOT NULL DEFAULT '{}',
	findings INTEGER NOT NULL DEFAULT 0,
	layers_walked INTEGER NOT NULL DEFAULT 0,
	layers_cached INTEGER NOT NULL DEFAULT 0,
	report {{BLOB}} NOT NULL
);
CREATE INDEX scan_digest ON scan(digest, finished);
CREATE INDEX scan_job ON scan(job_id);

-- Advisory ids (and their aliases, upper case) found in each image's
-- latest scan.
CREATE TABLE image_advisory (
	advisory TEXT NOT NULL,
	digest TEXT NOT NULL,
	PRIMARY KEY (advisory, digest)
);
CREATE INDEX image_advisory_digest ON image_advisory(digest);

-- API tokens: only their SHA-256 is kept.
CREATE TABLE api_token (
	id {{ID}},
	hash TEXT NOT NULL UNIQUE,
	role TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL,
	last_used BIGINT NOT NULL DEFAULT 0
);

-- Hosts whose local images a worker watches.
CREATE TABLE host (
	name TEXT PRIMARY KEY,
	engines TEXT NOT NULL DEFAULT '',
	started BIGINT NOT NULL DEFAULT 0,
	last_seen BIGINT NOT NULL DEFAULT 0
);

-- Small named values the server keeps.
CREATE TABLE setting (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
