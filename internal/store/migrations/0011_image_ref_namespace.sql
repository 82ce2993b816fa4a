-- A reference records the containerd namespace that holds the image
-- (empty for other sources), so that the same name in two namespaces is
-- two references, and a watch that restarts knows where each image is.
CREATE TABLE image_ref_ns (
	id {{ID}},
	digest TEXT NOT NULL,
	source TEXT NOT NULL,
	host TEXT NOT NULL DEFAULT '',
	namespace TEXT NOT NULL DEFAULT '',
	repository TEXT NOT NULL DEFAULT '',
	tag TEXT NOT NULL DEFAULT '',
	registry_id BIGINT,
	first_seen BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	removed_at BIGINT,
	UNIQUE (source, host, namespace, repository, tag, digest)
);
INSERT INTO image_ref_ns(digest, source, host, repository, tag, registry_id, first_seen, last_seen, removed_at)
	SELECT digest, source, host, repository, tag, registry_id, first_seen, last_seen, removed_at FROM image_ref ORDER BY id;
DROP TABLE image_ref;
ALTER TABLE image_ref_ns RENAME TO image_ref;
CREATE INDEX image_ref_digest ON image_ref(digest);
CREATE INDEX image_ref_repository ON image_ref(repository, tag);
CREATE INDEX image_ref_live ON image_ref(digest, removed_at);
