package signature_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/waguard/waguard/shared/signature"
)

func ExampleVerifyMeta() {
	secrets, err := signature.ParseSecrets("test-app-secret-0001", "test-app-secret-0000")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	header := signature.SignMeta([]byte("test-app-secret-0000"), body) // signed with the previous secret

	fmt.Println(signature.VerifyMeta(body, header, secrets...))
	fmt.Println(signature.VerifyMeta(append(body, ' '), header, secrets...))
	fmt.Println(secrets)
	// Output:
	// <nil>
	// signature: invalid signature
	// signature.Secrets[2 keys]
}

func ExampleVerifySigned() {
	key, err := signature.Key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"test": 2432232314}`)
	sent := time.Unix(1614265330, 0)
	h := signature.SignStandardWebhooks("msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body, key)
	fmt.Println(h.Signature)

	// API Gateway lower-cases header names.
	apigw := h.Map()
	r, err := signature.VerifySigned(signature.HeadersFrom(func(n string) string { return apigw[n] }),
		body, sent.Add(time.Minute), 0, key)
	fmt.Println(r.Scheme, r.ReplayKey, err)

	_, err = signature.VerifySigned(h, body, sent.Add(time.Hour), 0, key)
	fmt.Println(errors.Is(err, signature.ErrStaleTimestamp))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// standard_webhooks msg_p5jXN8AQM9LWM0D4loKWxJek <nil>
	// true
}
