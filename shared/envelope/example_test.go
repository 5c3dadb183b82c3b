package envelope_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/waguard/waguard/shared/envelope"
)

func Example() {
	ctx := context.Background()
	// In a function: envelope.New(kms.NewFromConfig(cfg),
	// dynamodb.NewFromConfig(cfg), ...). Here, in-memory fakes.
	env, err := envelope.New(newFakeKMS(), newFakeTable(), envelope.Config{
		KeyID:     "alias/waguard-test-data",
		KeysTable: "waguard-test-keys",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	subject := "bGlrZS1hLWJsaW5kLWluZGV4" // the caller's blind index
	ad := envelope.AD{Table: "waguard-test-data", PK: "sub#" + subject, SK: "msg#in#1", Attribute: "body"}

	ct, err := env.Encrypt(ctx, subject, []byte("Hello from waguard"), ad)
	if err != nil {
		fmt.Println(err)
		return
	}
	pt, err := env.Decrypt(ctx, subject, ct, ad)
	fmt.Printf("%s %v\n", pt, err)

	moved := ad
	moved.Attribute = "profile_name" // the ciphertext copied to another attribute
	_, err = env.Decrypt(ctx, subject, ct, moved)
	fmt.Println(err)

	if err := env.DeleteSubjectKey(ctx, subject); err != nil { // erasure
		fmt.Println(err)
		return
	}
	_, err = env.Decrypt(ctx, subject, ct, ad)
	fmt.Println(errors.Is(err, envelope.ErrSubjectKeyNotFound))
	// Output:
	// Hello from waguard <nil>
	// envelope: decryption failed
	// true
}
