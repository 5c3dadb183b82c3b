package iamguard

// Exemptions are the grants of template.yaml that no test on the local
// stack exercises on their own resource, each with the reason. [Check]
// accepts them unexercised, and fails on an entry that no longer accepts
// anything, so the list shrinks with the template. Adding one needs
// review: the first answer to an unexercised grant is a test that
// exercises it, or removing the grant.
//
// None is an action no emulator can perform: every action the functions'
// roles grant is one that DynamoDB Local, local-kms, the Secrets Manager
// emulator or moto (EventBridge, SQS) serves; the DynamoDB stream reads
// are the local event source mapping's, made with the function's role as
// Lambda's are (devstack/streams). (CloudWatch metrics go out as EMF log lines, and the
// logs and X-Ray permissions SAM adds are not in the inline policies the
// check reads.)
var Exemptions = []Exemption{
	// Rotating a secret that concurrently running tests rely on would race
	// them: the sandbox signs with a new Meta app secret at once, while a
	// webhook whose cache refresh was just spent on a forged delivery
	// still holds the old one; tests read the stack's provider token as
	// the one the sandbox accepts (TestRotateProviderFromNext compares
	// against it twice). The rotation writes are proven on same-kind
	// secrets under waguard/test/ instead (functions/rotate
	// TestRotateEachKind, TestRotateProviderFromNext; the webhook's and
	// send's rotation tests through the stack's RotateSecret).
	{Function: "RotateFunction", Sid: "RotatableSecrets", Action: "secretsmanager:PutSecretValue",
		Resource: "arn:*:secretsmanager:*:secret:waguard/*/webhook/*", StandIn: "arn:*:secretsmanager:*:secret:waguard/test/*",
		Reason: "rotating the stack's webhook secrets would race every concurrent webhook test; proven on waguard/test/ copies"},
	{Function: "RotateFunction", Sid: "RotatableSecrets", Action: "secretsmanager:UpdateSecretVersionStage",
		Resource: "arn:*:secretsmanager:*:secret:waguard/*/webhook/*", StandIn: "arn:*:secretsmanager:*:secret:waguard/test/*",
		Reason: "rotating the stack's webhook secrets would race every concurrent webhook test; proven on waguard/test/ copies"},
	{Function: "RotateFunction", Sid: "RotatableSecrets", Action: "secretsmanager:PutSecretValue",
		Resource: "arn:*:secretsmanager:*:secret:waguard/*/provider/*", StandIn: "arn:*:secretsmanager:*:secret:waguard/test/*",
		Reason: "rotating the stack's provider token would race every concurrent send test; proven on waguard/test/ copies"},
	{Function: "RotateFunction", Sid: "RotatableSecrets", Action: "secretsmanager:UpdateSecretVersionStage",
		Resource: "arn:*:secretsmanager:*:secret:waguard/*/provider/*", StandIn: "arn:*:secretsmanager:*:secret:waguard/test/*",
		Reason: "rotating the stack's provider token would race every concurrent send test; proven on waguard/test/ copies"},
}
