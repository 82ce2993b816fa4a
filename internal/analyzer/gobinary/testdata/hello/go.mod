module example.com/customs/hello

go 1.21

require (
	github.com/pkg/errors v0.8.1
	rsc.io/quote v1.5.2
)

require (
	golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c // indirect
	rsc.io/sampler v1.3.0 // indirect
)

replace github.com/pkg/errors v0.8.1 => github.com/pkg/errors v0.9.1
