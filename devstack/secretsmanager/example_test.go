package secretsmanager_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	smemu "github.com/waguard/waguard/devstack/secretsmanager"
)

// Example serves the emulator on loopback and uses it through the
// unmodified SDK client.
func Example() {
	ts := httptest.NewServer(smemu.New(smemu.Options{}))
	defer ts.Close()

	client := sm.New(sm.Options{
		Region:       smemu.DefaultRegion,
		BaseEndpoint: aws.String(ts.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "not-checked", ""),
	})
	ctx := context.Background()
	if _, err := client.CreateSecret(ctx, &sm.CreateSecretInput{
		Name: aws.String("waguard/whatsapp-token"), SecretString: aws.String("example-token"),
	}); err != nil {
		fmt.Println("create:", err)
		return
	}
	out, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("waguard/whatsapp-token")})
	if err != nil {
		fmt.Println("get:", err)
		return
	}
	fmt.Println(aws.ToString(out.SecretString), out.VersionStages)
	// Output: example-token [AWSCURRENT]
}
