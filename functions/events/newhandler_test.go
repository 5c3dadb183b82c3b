package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/waguard/waguard/shared/coldstart"
)

// newHandler builds the handler as main does at cold start: the settings
// from the environment the test set, then the dependencies under a
// context bounded by coldstart.BuildTimeout. Tests pass SDK options.
func newHandler(opts ...func(*config.LoadOptions) error) (*Handler, error) {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), coldstart.BuildTimeout)
	defer cancel()
	return build(ctx, cfg, opts...)
}
