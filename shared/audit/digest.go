package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Digest is one UTC day's signed summary of every chain that recorded
// events that day. Digests chain too: each names its predecessor's hash.
type Digest struct {
	// Day is the UTC day covered, YYYY-MM-DD.
	Day string
	// PrevDay and PrevHash identify the previous digest; both are zero
	// for the first digest of a digest chain.
	PrevDay  string
	PrevHash Hash
	// CreatedAt is when the digest was built.
	CreatedAt time.Time
	// ExpiresAt is when TTL may delete the digest (zero: never).
	ExpiresAt time.Time
	// Late is set on a digest made after its day's [DigestDue]: a day the
	// daily run missed, digested when a later run caught up. The day was
	// open to changes no digest reveals until then, so [Verify] reports
	// it. It is signed (digest format 2).
	Late bool
	// Heads lists, in chain order, each chain's last event of the day.
	Heads []Head
	// Hash is SHA-256 over the canonical encoding (see [Digest.ComputeHash]).
	Hash Hash
	// Signature is the KMS ECDSA P-256 signature of Hash, ASN.1 DER.
	Signature []byte
	// v1 marks a digest stored in format 1, signed before digests carried
	// Late (see [Digest.ComputeHash]). Only the item parser sets it.
	v1 bool
}

// Head is one chain's state at the end of a day.
type Head struct {
	// Chain is the writer ID.
	Chain string
	// Seq and Hash identify the chain's last event of the day.
	Seq  uint64
	Hash Hash
	// Count is how many of the chain's events fall on the day.
	Count uint64
}

// ErrDigestExists is returned (wrapped) by [Digester.Create] when the day
// already has a digest; a scheduled run can treat it as done.
var ErrDigestExists = errors.New("audit digest already exists")

// digestTable holds the DynamoDB calls a digester makes.
type digestTable interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, params *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// signer holds the KMS call a digester makes.
type signer interface {
	Sign(ctx context.Context, params *kms.SignInput, optFns ...func(*kms.Options)) (*kms.SignOutput, error)
}

// DigesterConfig sets up a [Digester].
type DigesterConfig struct {
	// Table is the audit table name.
	Table string
	// KeyID is the signing key's alias (AUDIT_SIGNING_KEY_ID).
	KeyID string
	// Retention sets the digest's expires_at = end of day + Retention (0:
	// no expiry). Use the events' retention or longer.
	Retention time.Duration
	// LookBack is how many days Create searches back for the previous
	// digest (default 35). Missing days in between are digested first,
	// marked late.
	LookBack int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CallTimeout bounds each DynamoDB or KMS call (default 10 s), so a
	// hung call fails the run rather than running out the invocation.
	CallTimeout time.Duration
}

// Digester builds, signs and stores daily digests. Only the retention
// function holds one.
type Digester struct {
	db       digestTable
	kms      signer
	table    string
	keyID    string
	ret      time.Duration
	lookBack int
	now      func() time.Time
	timeout  time.Duration
}

// Digest storage limits: heads go into part items of headsPerPart, and
// the root plus its parts are written in one transaction.
const (
	headsPerPart = 1000
	maxParts     = 24
)

// NewDigester returns a digester over db, signing with k.
func NewDigester(db digestTable, k signer, c DigesterConfig) (*Digester, error) {
	if c.Table == "" || c.KeyID == "" {
		return nil, errors.New("new audit digester: empty table or key id")
	}
	if c.LookBack <= 0 {
		c.LookBack = 35
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	return &Digester{db: db, kms: k, table: c.Table, keyID: c.KeyID, ret: c.Retention,
		lookBack: c.LookBack, now: c.Now, timeout: c.CallTimeout}, nil
}

// Create digests day, which must have ended, and returns every digest it
// stored, oldest first. It chains day to the newest digest in the
// look-back window, first digesting each day since then that has none (a
// missed run, or a digest deleted). Without a digest in the window it
// starts a new digest chain at the first day of the window that holds any
// item: the trail began then, or its digests are gone. A digest made
// after its day's [DigestDue] is marked [Digest.Late]; a missed day is
// digested all the same, as evidence of what remains.
//
// It returns [ErrDigestExists] if day already has a digest. On another
// error it returns the digests stored before it.
func (d *Digester) Create(ctx context.Context, day string) ([]*Digest, error) {
	t, err := time.Parse(dayLayout, day)
	if err != nil {
		return nil, fmt.Errorf("create digest: day %q: not YYYY-MM-DD", day)
	}
	if !t.Before(d.now().UTC().Truncate(24 * time.Hour)) {
		return nil, fmt.Errorf("create digest %s: day has not ended", day)
	}
	cur, err := d.get(ctx, day)
	if err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("create digest %s: %w", day, ErrDigestExists)
	}
	prev, missing, err := d.findPrev(ctx, t)
	if err != nil {
		return nil, err
	}
	var made []*Digest
	for _, m := range append(missing, day) {
		dg, err := d.build(ctx, m, prev)
		switch {
		case errors.Is(err, ErrDigestExists) && m != day: // another run made it
			if dg, err = d.get(ctx, m); err == nil && dg == nil {
				err = fmt.Errorf("create digest %s: vanished after a conflicting write", m)
			}
		case err == nil:
			made = append(made, dg)
		}
		if err != nil {
			return made, err
		}
		prev = dg
	}
	return made, nil
}

// findPrev returns the newest digest before t within the look-back
// window and the days after it, oldest first, that have none. Without
// one, it returns the days from the window's first day holding any item.
func (d *Digester) findPrev(ctx context.Context, t time.Time) (*Digest, []string, error) {
	var missing []string // newest first
	for k := 1; k <= d.lookBack; k++ {
		day := t.AddDate(0, 0, -k).Format(dayLayout)
		prev, err := d.get(ctx, day)
		if err != nil {
			return nil, nil, err
		}
		if prev != nil {
			slices.Reverse(missing)
			return prev, missing, nil
		}
		missing = append(missing, day)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		has, err := d.hasItems(ctx, missing[i])
		if err != nil {
			return nil, nil, err
		}
		if has {
			missing = missing[:i+1]
			slices.Reverse(missing)
			return nil, missing, nil
		}
	}
	return nil, nil, nil
}

// hasItems reports whether the by-day index holds any item of day.
func (d *Digester) hasItems(ctx context.Context, day string) (bool, error) {
	out, err := call(ctx, d, func(ctx context.Context) (*dynamodb.QueryOutput, error) {
		return d.db.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(d.table), IndexName: aws.String(ByDayIndex), Limit: aws.Int32(1),
			KeyConditionExpression:    aws.String("#d = :d"),
			ProjectionExpression:      aws.String("#pk"),
			ExpressionAttributeNames:  map[string]string{"#d": attrDay, "#pk": attrPK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": strAV(day)},
		})
	})
	if err != nil {
		return false, fmt.Errorf("query day %s: %w", day, err)
	}
	return len(out.Items) > 0, nil
}

// get reads a digest's day and hash, or returns nil if there is none.
func (d *Digester) get(ctx context.Context, day string) (*Digest, error) {
	out, err := call(ctx, d, func(ctx context.Context) (*dynamodb.GetItemOutput, error) {
		return d.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(d.table), ConsistentRead: aws.Bool(true),
			Key:                      map[string]types.AttributeValue{attrPK: strAV(digestPrefix + day), attrSK: strAV(digestSK)},
			ProjectionExpression:     aws.String("#h"),
			ExpressionAttributeNames: map[string]string{"#h": attrHash},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("get digest %s: %w", day, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	r := itemReader{item: out.Item}
	h := r.hash(attrHash)
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("get digest %s: %w", day, err)
	}
	return &Digest{Day: day, Hash: h}, nil
}

// build digests one day after prev (nil: a new digest chain), signs it
// and stores it.
func (d *Digester) build(ctx context.Context, day string, prev *Digest) (*Digest, error) {
	heads, err := d.heads(ctx, day)
	if err != nil {
		return nil, err
	}
	now := d.now().UTC()
	dg := &Digest{Day: day, CreatedAt: now, Late: DigestLate(day, now), Heads: heads}
	if prev != nil {
		dg.PrevDay, dg.PrevHash = prev.Day, prev.Hash
	}
	if d.ret > 0 {
		end, _ := time.Parse(dayLayout, day)
		dg.ExpiresAt = end.Add(24*time.Hour + d.ret)
	}
	dg.Hash = dg.ComputeHash()
	out, err := call(ctx, d, func(ctx context.Context) (*kms.SignOutput, error) {
		return d.kms.Sign(ctx, &kms.SignInput{
			KeyId: aws.String(d.keyID), Message: dg.Hash[:],
			MessageType: kmstypes.MessageTypeDigest, SigningAlgorithm: kmstypes.SigningAlgorithmSpecEcdsaSha256,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("sign digest %s: %w", day, err)
	}
	dg.Signature = out.Signature
	return dg, d.put(ctx, dg)
}

// put writes the digest's root and parts in one transaction.
func (d *Digester) put(ctx context.Context, dg *Digest) error {
	items := digestItems(dg)
	if len(items) > maxParts+1 {
		return fmt.Errorf("put digest %s: %d chains exceed the %d a digest holds", dg.Day, len(dg.Heads), maxParts*headsPerPart)
	}
	tx := make([]types.TransactWriteItem, len(items))
	for i, it := range items {
		tx[i] = types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(d.table), Item: it,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}}
	}
	_, err := call(ctx, d, func(ctx context.Context) (*dynamodb.TransactWriteItemsOutput, error) {
		return d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return fmt.Errorf("put digest %s: %w", dg.Day, ErrDigestExists)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("put digest %s: %w", dg.Day, err)
	}
	return nil
}

// heads reads the day's events from the by-day index, keys and hashes
// only, and keeps each chain's last event and count. Items that do not
// parse are left to the verifier, which reports them.
func (d *Digester) heads(ctx context.Context, day string) ([]Head, error) {
	acc := newHeadSet()
	in := &dynamodb.QueryInput{
		TableName: aws.String(d.table), IndexName: aws.String(ByDayIndex),
		KeyConditionExpression:    aws.String("#d = :d"),
		ProjectionExpression:      aws.String("#pk, #sk, #h"),
		ExpressionAttributeNames:  map[string]string{"#d": attrDay, "#pk": attrPK, "#sk": attrSK, "#h": attrHash},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": strAV(day)},
	}
	for {
		out, err := call(ctx, d, func(ctx context.Context) (*dynamodb.QueryOutput, error) { return d.db.Query(ctx, in) })
		if err != nil {
			return nil, fmt.Errorf("query day %s: %w", day, err)
		}
		for _, it := range out.Items {
			acc.addKeyed(it)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return acc.heads(), nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// call makes one remote call under the digester's call timeout.
func call[T any](ctx context.Context, d *Digester, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return f(ctx)
}

// ByDayIndex is the audit table's GSI: day (HASH), sk (RANGE).
const ByDayIndex = "by-day"

// headSet accumulates chain heads.
type headSet map[string]*Head

func newHeadSet() headSet { return headSet{} }

func (s headSet) add(chain string, seq uint64, h Hash) {
	cur := s[chain]
	if cur == nil {
		cur = &Head{Chain: chain}
		s[chain] = cur
	}
	cur.Count++
	if seq > cur.Seq {
		cur.Seq, cur.Hash = seq, h
	}
}

func (s headSet) addKeyed(it map[string]types.AttributeValue) {
	r := itemReader{item: it}
	pk := r.str(attrPK, true)
	seq := parseSK(&r)
	h := r.hash(attrHash)
	if r.err == nil && strings.HasPrefix(pk, chainPrefix) && seq > 0 {
		s.add(strings.TrimPrefix(pk, chainPrefix), seq, h)
	}
}

// heads returns the heads in chain order.
func (s headSet) heads() []Head {
	out := make([]Head, 0, len(s))
	for _, h := range s {
		out = append(out, *h)
	}
	sortHeads(out)
	return out
}
