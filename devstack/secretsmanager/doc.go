// Package secretsmanager is an in-memory emulator of AWS Secrets Manager for
// local development and tests. It is a development tool: nothing in it is
// deployed, it never talks to AWS, and it must never hold production secrets.
//
// A [Server] is a [net/http.Handler] that speaks the AWS JSON 1.1 protocol
// (POST /, X-Amz-Target: secretsmanager.<Operation>, Content-Type:
// application/x-amz-json-1.1), so the unmodified aws-sdk-go-v2 secretsmanager
// client works against it when pointed at it with
// AWS_ENDPOINT_URL_SECRETS_MANAGER or the client's BaseEndpoint option.
// Errors are HTTP 400 responses with a JSON body {"__type":"<Code>",
// "message":"..."} and an X-Amzn-ErrorType header, which the SDK turns into its
// typed errors such as *types.ResourceNotFoundException.
//
// # Operations
//
// CreateSecret, DescribeSecret, GetSecretValue, PutSecretValue, UpdateSecret,
// UpdateSecretVersionStage, ListSecretVersionIds, ListSecrets, RotateSecret,
// CancelRotateSecret, GetRandomPassword, DeleteSecret, RestoreSecret,
// TagResource and UntagResource. Any other target gets AWS's
// UnknownOperationException.
//
// Version staging follows the API reference: a staging label lives on one
// version at a time; moving AWSCURRENT moves AWSPREVIOUS to the version it
// left; a version without labels is deprecated and only listed by
// ListSecretVersionIds with IncludeDeprecated. PutSecretValue is idempotent
// on ClientRequestToken, which must be 32 to 64 characters long.
//
// # Rotation
//
// RotateSecret records the rotation configuration, attaches AWSPENDING to a
// new version that has no value, and then calls the rotation function through
// [Options.Invoker] with the events createSecret, setSecret, testSecret and
// finishSecret, in that order. Each event is the JSON object
// {"SecretId":"<secret ARN>","ClientRequestToken":"<version ID>","Step":"<step>"}.
// With RotateImmediately set to false only testSecret runs, and AWSPENDING is
// removed from the new version afterwards.
//
// AWS runs these steps asynchronously, after RotateSecret has returned. The
// emulator runs them synchronously, inside the RotateSecret call, so that
// tests see the final state as soon as the call returns. As in AWS, a failed
// step does not fail RotateSecret: the remaining steps are skipped, AWSPENDING
// stays where the function left it, LastRotatedDate is not updated, and a
// later RotateSecret fails with InvalidRequestException until AWSPENDING is
// removed. [Options.OnRotationFailure] reports the failure.
//
// # Security
//
// The emulator does not verify SigV4 signatures: it accepts any credentials,
// signed or not. Secret values are kept in memory in plaintext and are never
// encrypted with KMS. Bind it to loopback only.
//
// # Differences from AWS
//
//   - No authentication: signatures and the RotationToken are ignored.
//     Authorisation is left to the embedder: [Options.Authorize], when set,
//     is asked about each request's action and secret ARN (the dev stack
//     answers from the template's IAM policies); resource policies are
//     ignored.
//   - KmsKeyId is stored and echoed but nothing is encrypted; KMS errors
//     (DecryptionFailure, EncryptionFailure) never occur.
//   - Rotation steps run synchronously (see Rotation) and are not retried.
//     Without an Invoker, RotateSecret fails with AccessDeniedException, as AWS
//     does when it cannot invoke the function. The rotation event has no
//     RotationToken field.
//   - NextRotationDate is computed for AutomaticallyAfterDays and rate()
//     schedules as the end of the rotation window (end of the UTC day, or of
//     the hour for hourly rates); AWS picks a time inside the window. cron()
//     schedules are accepted but get no NextRotationDate, and
//     AutomaticallyAfterDays is not derived from a ScheduleExpression.
//     Scheduled rotations never run by themselves.
//   - Deprecated versions are kept for ever; AWS removes them once a secret
//     has more than 100 versions.
//   - A secret scheduled for deletion is purged lazily, on the first request
//     after its DeletionDate, and force deletion is immediate rather than
//     eventually consistent.
//   - ListSecrets filters match by case-sensitive prefix (with "!" negation);
//     the primary-region and owning-service filters never match. Replication,
//     resource policies, BatchGetSecretValue, ValidateResourcePolicy and
//     managed external secrets are not implemented.
//   - Model constraint violations (for example a ClientRequestToken shorter
//     than 32 characters or a PasswordLength above 4096) return
//     ValidationException; only the constraints named in this package are
//     checked.
//   - Error codes follow AWS; error messages only approximate AWS's wording.
//     Request members are matched case-insensitively, as encoding/json does.
//   - DescribeSecret's DeletedDate is the time of the DeleteSecret call, and
//     LastAccessedDate is the day of the last GetSecretValue.
//   - ARNs always use the "aws" partition.
//   - State lives in memory and is lost when the process exits.
package secretsmanager
