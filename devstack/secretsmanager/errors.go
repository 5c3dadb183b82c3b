package secretsmanager

import (
	"fmt"
	"net/http"
)

// Error codes, as AWS puts them in the __type field of an error response.
const (
	codeAccessDenied      = "AccessDeniedException"
	codeInternal          = "InternalServiceError"
	codeInvalidNextToken  = "InvalidNextTokenException"
	codeInvalidParameter  = "InvalidParameterException"
	codeInvalidRequest    = "InvalidRequestException"
	codeResourceExists    = "ResourceExistsException"
	codeResourceNotFound  = "ResourceNotFoundException"
	codeSerialization     = "SerializationException"
	codeUnknownOperation  = "com.amazon.coral.service#UnknownOperationException"
	codeValidation        = "ValidationException"
	msgSecretNotFound     = "Secrets Manager can't find the specified secret."
	msgMarkedForDeletion  = "You can't perform this operation on the secret because it was marked for deletion."
	msgRotationInProgress = "A previous rotation isn't complete. That rotation will be reattempted."
)

// apiError is an error that the server reports to the client with an AWS
// error code.
type apiError struct {
	status  int
	code    string
	message string
}

// Error returns the code and message.
func (e *apiError) Error() string {
	return e.code + ": " + e.message
}

// newError returns an HTTP 400 error with code and a formatted message.
func newError(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// errSecretNotFound is AWS's error for an unknown SecretId.
func errSecretNotFound() *apiError {
	return newError(codeResourceNotFound, msgSecretNotFound)
}

// errDeleted is AWS's error for an operation on a secret scheduled for
// deletion.
func errDeleted() *apiError {
	return newError(codeInvalidRequest, msgMarkedForDeletion)
}

// errRequired is the model validation error for a missing required member.
func errRequired(member string) *apiError {
	return newError(codeValidation,
		"1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// checkLength validates a string member against the length constraint of the
// Secrets Manager model.
func checkLength(member, v string, minLen, maxLen int) error {
	switch {
	case len(v) < minLen:
		return newError(codeValidation,
			"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d",
			member, minLen)
	case len(v) > maxLen:
		return newError(codeValidation,
			"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d",
			member, maxLen)
	}
	return nil
}

// checkRange validates a numeric member against the range constraint of the
// Secrets Manager model.
func checkRange(member string, v, minValue, maxValue int64) error {
	switch {
	case v < minValue:
		return newError(codeValidation,
			"1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d",
			v, member, minValue)
	case v > maxValue:
		return newError(codeValidation,
			"1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d",
			v, member, maxValue)
	}
	return nil
}

// checkToken validates a ClientRequestToken, which AWS requires on every
// request that creates a version (the SDKs fill it in automatically).
func checkToken(token string) error {
	if token == "" {
		return newError(codeInvalidRequest, "You must provide a ClientRequestToken value. We recommend a UUID-type value.")
	}
	return checkLength("clientRequestToken", token, 32, 64)
}
