// Package summary ends every invocation the same way in all functions: one
// summary log line with stable keys (ERROR with the error when a dependency
// failed, INFO otherwise) and one flush of the invocation's EMF metrics.
//
// # Non-goals
//
// It adds no attributes of its own: callers pass only non-personal values
// (routes, statuses, counts, ids); the redacting logger is the backstop.
package summary

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/waguard/waguard/shared/metrics"
)

// Done logs the summary line with ctx, the invocation's context (so that
// the Lambda handler adds its requestId), and flushes rec to out (os.Stdout
// when nil, which Lambda ships to CloudWatch Logs). A non-nil err counts as
// a dependency failure.
func Done(ctx context.Context, log *slog.Logger, rec *metrics.Recorder, out io.Writer, err error, attrs ...any) {
	if err != nil {
		rec.Add(metrics.DependencyFailures, 1)
		log.ErrorContext(ctx, "invocation failed", append(attrs, "err", err)...)
	} else {
		log.InfoContext(ctx, "invocation", attrs...)
	}
	if out == nil {
		out = os.Stdout
	}
	_ = rec.Flush(out)
}
