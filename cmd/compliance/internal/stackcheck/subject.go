package stackcheck

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/blindindex"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
)

// subject is the synthetic data subject of one run.
type subject struct {
	num       phone.Number
	bidx      string // blind index: the data table partition
	pseudonym string // the audit trail's name for it
}

// credentials are what the probes need from Secrets Manager.
type credentials struct {
	apiKey string
	keys   *blindindex.Keys
}

func (c *Checker) credentials(ctx context.Context) (credentials, error) {
	st := secrets.NewStore(c.sm, time.Minute)
	get := func(id, field string) ([]byte, error) {
		f, err := st.Get(ctx, id, secrets.StageCurrent)
		if errors.Is(err, secrets.ErrNotFound) {
			return nil, fmt.Errorf("read secret %s: not found", id)
		}
		if err != nil {
			return nil, fmt.Errorf("read secret %s: %s", id, errCode(err))
		}
		if f.Get(field).Empty() {
			return nil, fmt.Errorf("secret %s has no %q field", id, field)
		}
		return f.Get(field).Reveal(), nil
	}
	key, err := get(c.cfg.APIKeySecretID, "key")
	if err != nil {
		return credentials{}, err
	}
	idx, err := get(c.cfg.IndexKeySecretID, "key")
	if err != nil {
		return credentials{}, err
	}
	pse, err := get(c.cfg.PseudonymKeySecretID, "key")
	if err != nil {
		return credentials{}, err
	}
	keys, err := blindindex.NewKeys(idx, pse)
	if err != nil {
		return credentials{}, errors.New("blind index keys unusable")
	}
	presented := apiauth.PresentedKey(c.cfg.APIClientID, secrets.NewValue(key))
	return credentials{apiKey: string(presented.Reveal()), keys: keys}, nil
}

// newSubject picks a fictitious number (+1 NXX 555 01xx) the stack has
// never seen: no consent, no suppression, not erased.
func (c *Checker) newSubject(ctx context.Context, cr credentials) (subject, error) {
	for range 20 {
		n, err := phone.Parse(randomNumber())
		if err != nil {
			continue // an area code libphonenumber does not know
		}
		fresh, err := c.fresh(ctx, cr, n)
		if err != nil {
			return subject{}, err
		}
		if !fresh {
			continue
		}
		bidx, pseud, err := cr.keys.ForPhone(n)
		if err != nil {
			return subject{}, errors.New("derive subject identifiers")
		}
		return subject{num: n, bidx: bidx, pseudonym: pseud}, nil
	}
	return subject{}, errors.New("no fresh synthetic number found in 20 tries")
}

func randomNumber() string {
	nxx, _ := rand.Int(rand.Reader, big.NewInt(800))
	xx, _ := rand.Int(rand.Reader, big.NewInt(100))
	return fmt.Sprintf("+1%03d55501%02d", 200+nxx.Int64(), xx.Int64())
}

// fresh asks the consent API whether the stack knows the number.
func (c *Checker) fresh(ctx context.Context, cr credentials, n phone.Number) (bool, error) {
	a, err := c.callJSON(ctx, http.MethodPost, "/v1/consents/query", map[string]string{"phone": n.E164()}, cr.apiKey)
	if err != nil {
		return false, err
	}
	if a.status != http.StatusOK {
		return false, fmt.Errorf("POST /v1/consents/query → %s, want 200", a)
	}
	var q struct {
		Purposes map[string]struct {
			State      string `json:"state"`
			Suppressed bool   `json:"suppressed"`
		} `json:"purposes"`
		Ledger []any `json:"ledger"`
		Erased bool  `json:"erased"`
	}
	raw, _ := json.Marshal(a.body)
	if err := json.Unmarshal(raw, &q); err != nil || len(q.Purposes) == 0 {
		return false, errors.New("POST /v1/consents/query: unexpected answer")
	}
	if q.Erased || len(q.Ledger) > 0 {
		return false, nil
	}
	for _, p := range q.Purposes {
		if p.State != "none" || p.Suppressed {
			return false, nil
		}
	}
	return true, nil
}

// partitionSize counts the items in the subject's partition.
func (c *Checker) partitionSize(ctx context.Context, s subject) (int, error) {
	out, err := c.items.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(c.cfg.DataTable), ConsistentRead: aws.Bool(true),
		Select:                    types.SelectCount,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(s.bidx)}}})
	if err != nil {
		return 0, fmt.Errorf("query the subject's partition: %s", errCode(err))
	}
	return int(out.Count), nil
}

// hasSubjectKey reports whether the keys table holds the subject's key
// (pk "subject#<blind index>", sk "key": docs/data-model.md).
func (c *Checker) hasSubjectKey(ctx context.Context, s subject) (bool, error) {
	out, err := c.items.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.cfg.KeysTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "subject#" + s.bidx}, "sk": &types.AttributeValueMemberS{Value: "key"}}})
	if err != nil {
		return false, fmt.Errorf("read the subject key: %s", errCode(err))
	}
	return len(out.Item) > 0, nil
}

// sandboxSends counts the messages the local WhatsApp sandbox accepted
// for the subject; -1 when there is no sandbox.
func (c *Checker) sandboxSends(ctx context.Context, s subject) (int, error) {
	if c.cfg.SandboxURL == "" {
		return -1, nil
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.cfg.SandboxURL, "/")+"/_sandbox/messages", nil)
	resp, err := c.web.Do(req)
	if err != nil {
		return 0, errors.New("sandbox unreachable")
	}
	defer resp.Body.Close()
	var recs []struct {
		Request struct {
			To string `json:"to"`
		} `json:"request"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		return 0, errors.New("sandbox messages unreadable")
	}
	n := 0
	for _, r := range recs {
		if strings.TrimPrefix(r.Request.To, "+") == s.num.Digits() {
			n++
		}
	}
	return n, nil
}
