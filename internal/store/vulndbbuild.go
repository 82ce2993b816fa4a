package store

import "context"

// BuildVulnDB changes the stored vulnerability database: dir (a working
// copy) first takes the stored database, so that build carries its records
// and generation on, then build changes dir's database (vulndb.Update,
// vulndb.Import) and the result is published (PublishVulnDB). It returns
// the published generation. ErrVulnDBOutdated means another change was
// published meanwhile: build again. An error of build is returned as it is.
func (s *Store) BuildVulnDB(ctx context.Context, dir string, build func() error) (int64, error) {
	if _, _, err := s.FetchVulnDB(ctx, dir); err != nil {
		return 0, err
	}
	if err := build(); err != nil {
		return 0, err
	}
	return s.PublishVulnDB(ctx, dir)
}
