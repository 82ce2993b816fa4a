-- The matchable packages of each scan's inventory by their database key
-- (ecosystem base and normalised name, see rematch.PackageKey), so that a
-- re-match reads only the reports of images holding a package a change
-- names. A scan's rows go with it. packages_indexed is 1 for a scan whose
-- keys are recorded; a scan stored before this version has none until a
-- re-match reads its report.
CREATE TABLE scan_package (
	ecosystem TEXT NOT NULL,
	name TEXT NOT NULL,
	scan BIGINT NOT NULL REFERENCES scan(id) ON DELETE CASCADE,
	PRIMARY KEY (ecosystem, name, scan)
);
CREATE INDEX scan_package_scan ON scan_package(scan);
ALTER TABLE scan ADD COLUMN packages_indexed INTEGER NOT NULL DEFAULT 0;
