package source

import (
	"context"
	"errors"
)

// TEMPORARY: replaced by the real sources.
var errPending = errors.New("not yet supported")

func openDocker(context.Context, string, *Options) (Image, error)        { return nil, errPending }
func openContainerd(context.Context, string, *Options) (Image, error)    { return nil, errPending }
func openPodman(context.Context, string, *Options) (Image, error)        { return nil, errPending }
func openDockerArchive(context.Context, string, *Options) (Image, error) { return nil, errPending }
func openOCIArchive(context.Context, string, *Options) (Image, error)    { return nil, errPending }
