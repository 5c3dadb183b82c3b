package iamguard

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// kmsReadOnly are the KMS operations the proxy checks after they ran:
// they change nothing, and only their answer names the key's ARN when the
// request gives an alias or, for Decrypt, no key at all. A restricted
// caller's other operations are refused.
var kmsReadOnly = map[string]bool{
	"Decrypt": true, "Encrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
	"ReEncrypt": true, "Sign": true, "Verify": true, "GetPublicKey": true, "DescribeKey": true,
	"GenerateMac": true, "VerifyMac": true,
}

// KMSProxy enforces the functions' KMS permissions in front of local-kms:
// it forwards a restricted caller's call, reads the key's ARN from the
// answer, and replaces the answer with AccessDeniedException unless the
// caller's policy allows kms:<Operation> on that key with the request's
// encryption context (kms:EncryptionContext:<key> condition keys).
type KMSProxy struct {
	// Target is local-kms's URL.
	Target *url.URL
	// Roles are the policies to enforce (nil: none).
	Roles *Roles
	// Denied, when set, is told of each refusal.
	Denied func(principal, action, resource string)

	once sync.Once
	rp   *httputil.ReverseProxy
}

const kmsContentType = "application/x-amz-json-1.1"

func (p *KMSProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.once.Do(func() {
		p.rp = httputil.NewSingleHostReverseProxy(p.Target)
		p.rp.ErrorHandler = proxyError
	})
	key := AccessKeyOf(r)
	if p.Roles == nil || !p.Roles.restricted(key) {
		p.rp.ServeHTTP(w, r)
		return
	}
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	action := "kms:" + op
	if !kmsReadOnly[op] {
		p.deny(w, key, action, "*")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	var in struct{ EncryptionContext map[string]string }
	_ = json.Unmarshal(body, &in)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	var out struct {
		KeyId       string
		KeyMetadata struct{ Arn string }
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	arn := out.KeyId
	if arn == "" {
		arn = out.KeyMetadata.Arn
	}
	if rec.Code == http.StatusOK {
		ctx := map[string]string{}
		for k, v := range in.EncryptionContext {
			ctx["kms:EncryptionContext:"+k] = v
		}
		if !p.Roles.AllowsWith(key, action, arn, ctx) {
			p.deny(w, key, action, arn)
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (p *KMSProxy) deny(w http.ResponseWriter, key, action, resource string) {
	if p.Denied != nil {
		p.Denied(key, action, resource)
	}
	Deny(w, kmsContentType, key, action, resource)
}
