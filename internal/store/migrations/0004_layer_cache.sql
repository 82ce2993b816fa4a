-- Layer analysis results the workers share, by cache key (see
-- internal/cache): the same gzip JSON as a local cache entry. puts counts
-- the analyses stored under a key, hits the lookups it answered.
CREATE TABLE layer_cache (
	cache_key TEXT PRIMARY KEY,
	data {{BLOB}} NOT NULL,
	size BIGINT NOT NULL,
	created BIGINT NOT NULL,
	last_used BIGINT NOT NULL,
	puts BIGINT NOT NULL DEFAULT 1,
	hits BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX layer_cache_last_used ON layer_cache(last_used);

-- The worker analysing a layer not yet cached, until its lease expires.
CREATE TABLE layer_claim (
	cache_key TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	claimed BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
