package samtemplate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, v string
		want       bool
	}{
		{"arn:aws:dynamodb:r:1:table/data", "arn:aws:dynamodb:r:1:table/data", true},
		{"arn:aws:dynamodb:r:1:table/data", "arn:aws:dynamodb:r:1:table/data2", false},
		{"arn:aws:dynamodb:r:1:table/data/index/*", "arn:aws:dynamodb:r:1:table/data/index/by-lookup", true},
		{"arn:aws:dynamodb:r:1:table/data/index/*", "arn:aws:dynamodb:r:1:table/data", false},
		{"*", "anything/at/all", true},
		{"dynamodb:*Item", "dynamodb:putitem", false}, // case is folded by Allows, not glob
		{"dynamodb:?etItem", "dynamodb:GetItem", true},
		{"", "", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		// the compliance check's cases (cmd/compliance templatecheck)
		{"dynamodb:*", "dynamodb:updateitem", true},
		{"dynamodb:*item", "dynamodb:deleteitem", true},
		{"dynamodb:update?tem", "dynamodb:updateitem", true},
		{"*", "anything", true},
		{"dynamodb:putitem", "dynamodb:updateitem", false},
		{"dynamodb:get*", "dynamodb:updateitem", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.v); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.v, got, tt.want)
		}
	}
}

// FuzzGlob: a pattern without wildcards matches exactly itself, and "*"
// matches everything.
func FuzzGlob(f *testing.F) {
	f.Add("arn:aws:dynamodb:r:1:table/d", "arn:aws:dynamodb:r:1:table/d/index/x")
	f.Add("dynamodb:*", "dynamodb:updateitem")
	f.Add("a*b?c", "axxbyc")
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsAny(a, "*?") {
			return
		}
		if Glob(a, b) != (a == b) || !Glob("*", b) || !Glob(a+"*", a+b) {
			t.Fatalf("Glob(%q, %q) = %v", a, b, Glob(a, b))
		}
	})
}

const iamTemplate = `
Transform: AWS::Serverless-2016-10-31
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  AFunction:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Sid: Read
              Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:Query]
              Resource: [!GetAtt Table.Arn, !Sub "${Table.Arn}/index/*"]
            - Effect: Deny
              NotAction: dynamodb:PutItem
              NotResource: "*"
        - Version: "2012-10-17"
          Statement:
            Sid: Key
            Effect: Allow
            Action: kms:Decrypt
            Resource: "*"
            Condition:
              StringEquals:
                kms:EncryptionContext:purpose: [branch, subject]
        - DynamoDBReadPolicy:
            TableName: !Ref Table
        - AWSLambdaBasicExecutionRole
  ARole:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      Policies:
        - PolicyName: inline
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: sqs:SendMessage
                Resource: arn:aws:sqs:eu-west-2:1:q
`

func TestStatements(t *testing.T) {
	tpl, err := Parse([]byte(iamTemplate), Resolver{})
	if err != nil {
		t.Fatalf("Parse() err = %v, want nil", err)
	}
	want := []Statement{
		{Holder: "AFunction", Sid: "Read", Effect: "Allow", Actions: []string{"dynamodb:GetItem", "dynamodb:Query"},
			Resources: []string{"GetAtt(Table.Arn)", "GetAtt(Table.Arn)/index/*"}},
		{Holder: "AFunction", Sid: "Statement[1]", Effect: "Deny", NotActions: []string{"dynamodb:PutItem"}, NotResources: []string{"*"}},
		{Holder: "AFunction", Sid: "Key", Effect: "Allow", Actions: []string{"kms:Decrypt"}, Resources: []string{"*"},
			StringEquals: map[string][]string{"kms:EncryptionContext:purpose": {"branch", "subject"}},
			Condition:    map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:purpose": []any{"branch", "subject"}}}},
		{Holder: "ARole", Sid: "Statement[0]", Effect: "Allow", Actions: []string{"sqs:SendMessage"}, Resources: []string{"arn:aws:sqs:eu-west-2:1:q"}},
	}
	if diff := cmp.Diff(want, tpl.Statements()); diff != "" {
		t.Errorf("Statements() mismatch (-want +got):\n%s", diff)
	}
	wantNamed := []NamedPolicy{
		{Holder: "AFunction", Name: "DynamoDBReadPolicy", Params: "map[TableName:Ref(Table)] "},
		{Holder: "AFunction", Name: "AWSLambdaBasicExecutionRole"},
		{Holder: "ARole", Name: "arn:aws:iam::aws:policy/ReadOnlyAccess"},
	}
	if diff := cmp.Diff(wantNamed, tpl.NamedPolicies()); diff != "" {
		t.Errorf("NamedPolicies() mismatch (-want +got):\n%s", diff)
	}
}

func TestStatementAllows(t *testing.T) {
	s := Statement{Actions: []string{"kms:Decrypt", "dynamodb:*Item"}, Resources: []string{"arn:k/*"},
		StringEquals: map[string][]string{"kms:EncryptionContext:purpose": {"branch"}}}
	branch := map[string]string{"kms:EncryptionContext:purpose": "branch"}
	tests := []struct {
		action, resource string
		ctx              map[string]string
		want             bool
	}{
		{"kms:Decrypt", "arn:k/1", branch, true},
		{"KMS:decrypt", "arn:k/1", branch, true},
		{"dynamodb:GetItem", "arn:k/1", branch, true},
		{"kms:Decrypt", "ARN:k/1", branch, false},
		{"kms:Decrypt", "arn:k/1", map[string]string{"kms:EncryptionContext:purpose": "other"}, false},
		{"kms:Decrypt", "arn:k/1", nil, false},
		{"kms:Encrypt", "arn:k/1", branch, false},
	}
	for _, tt := range tests {
		if got := s.Allows(tt.action, tt.resource, tt.ctx); got != tt.want {
			t.Errorf("Allows(%q, %q, %v) = %v, want %v", tt.action, tt.resource, tt.ctx, got, tt.want)
		}
	}
}
