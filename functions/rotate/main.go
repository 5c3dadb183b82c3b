// Command rotate is the waguard rotate Lambda. Until its issue lands it refuses
// every event with an error, so a schedule or rotation fails visibly
// instead of reporting success.
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.StartHandlerFunc(handle)
}

func handle(_ context.Context, _ json.RawMessage) (struct{}, error) {
	return struct{}{}, errors.New("rotate: not available yet")
}
