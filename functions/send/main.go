// Command send is the waguard send Lambda. Its routes are declared in
// template.yaml; until their issue lands they answer 501 not_implemented
// rather than pretend to work.
package main

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/waguard/waguard/shared/httpapi"
)

func main() {
	lambda.StartHandlerFunc(handle)
}

func handle(_ context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.Error(http.StatusNotImplemented, "not_implemented", "this route is not available yet"), nil
}
