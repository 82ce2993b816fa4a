-- The matchable packages of each image's inventory (that of its latest
-- scan) by their database key (ecosystem base and normalised name, see
-- rematch.PackageKey), so that a re-match reads only the reports of
-- images holding a package a change names. A re-match keeps the
-- inventory, so it writes none. packages_indexed is 1 for an image whose
-- keys are recorded; an image scanned before this version has none until
-- a re-match reads its report.
CREATE TABLE image_package (
	ecosystem TEXT NOT NULL,
	name TEXT NOT NULL,
	digest TEXT NOT NULL,
	PRIMARY KEY (ecosystem, name, digest)
);
CREATE INDEX image_package_digest ON image_package(digest);
ALTER TABLE image ADD COLUMN packages_indexed INTEGER NOT NULL DEFAULT 0;
