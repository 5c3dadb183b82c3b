package envelope

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/waguard/waguard/shared/deadline"
)

// branchPurpose is the encryption context purpose the IAM policies in
// template.yaml require on every KMS call.
const branchPurpose = "waguard-branch-key"

// branchCache holds unwrapped branch keys by version and the active
// version, each for ttl. fetch serialises cache fills, so concurrent
// misses make one KMS request, while still honouring each caller's ctx.
type branchCache struct {
	ttl   time.Duration
	fetch chan struct{}

	mu            sync.Mutex
	keys          map[int]branchEntry
	active        int
	activeExpires time.Time
}

type branchEntry struct {
	key     *aesKey
	expires time.Time
}

func newBranchCache(ttl time.Duration) *branchCache {
	return &branchCache{ttl: ttl, fetch: make(chan struct{}, 1), keys: make(map[int]branchEntry)}
}

func (c *branchCache) get(version int, now time.Time) (*aesKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[version]
	if !ok || !now.Before(e.expires) {
		delete(c.keys, version)
		return nil, false
	}
	return e.key, true
}

func (c *branchCache) getActive(now time.Time) (int, *aesKey, bool) {
	c.mu.Lock()
	v, fresh := c.active, now.Before(c.activeExpires)
	c.mu.Unlock()
	if !fresh {
		return 0, nil, false
	}
	k, ok := c.get(v, now)
	return v, k, ok
}

func (c *branchCache) put(version int, k *aesKey, active bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[version] = branchEntry{key: k, expires: now.Add(c.ttl)}
	if active {
		c.active, c.activeExpires = version, now.Add(c.ttl)
	}
}

// lock waits for the fill lock or ctx.
func (c *branchCache) lock(ctx context.Context) error {
	select {
	case c.fetch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *branchCache) unlock() { <-c.fetch }

// activeBranch returns the active branch key, from the cache or the keys
// table, creating version 1 on first use.
func (e *Envelope) activeBranch(ctx context.Context) (int, *aesKey, error) {
	if v, k, ok := e.branches.getActive(e.cfg.Now()); ok {
		e.stats.branchHits.Add(1)
		return v, k, nil
	}
	if err := e.branches.lock(ctx); err != nil {
		return 0, nil, fmt.Errorf("get active branch key: %w", err)
	}
	defer e.branches.unlock()
	if v, k, ok := e.branches.getActive(e.cfg.Now()); ok {
		e.stats.branchHits.Add(1)
		return v, k, nil
	}
	e.stats.branchMisses.Add(1)
	v, err := e.readActive(ctx)
	var k *aesKey
	switch {
	case errors.Is(err, errNoItem):
		v, k, err = e.initBranch(ctx)
	case err == nil:
		k, err = e.cachedOrLoad(ctx, v)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("get active branch key: %w", err)
	}
	e.branches.put(v, k, true, e.cfg.Now())
	return v, k, nil
}

// branchKey returns branch key version from the cache or the keys table.
func (e *Envelope) branchKey(ctx context.Context, version int) (*aesKey, error) {
	if k, ok := e.branches.get(version, e.cfg.Now()); ok {
		e.stats.branchHits.Add(1)
		return k, nil
	}
	if err := e.branches.lock(ctx); err != nil {
		return nil, fmt.Errorf("get branch key: %w", err)
	}
	defer e.branches.unlock()
	if k, ok := e.branches.get(version, e.cfg.Now()); ok {
		e.stats.branchHits.Add(1)
		return k, nil
	}
	e.stats.branchMisses.Add(1)
	k, err := e.loadBranch(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("get branch key: %w", err)
	}
	e.branches.put(version, k, false, e.cfg.Now())
	return k, nil
}

// RotateBranchKey creates branch key version n+1 and makes it active, so
// that new subject keys are wrapped under it; existing subject keys keep
// their version. Concurrent rotations race on a compare-and-swap of the
// active pointer and agree on one winner. It returns the active version.
// Other processes pick the new version up within [Config.BranchTTL].
func (e *Envelope) RotateBranchKey(ctx context.Context) (int, error) {
	if err := e.branches.lock(ctx); err != nil {
		return 0, fmt.Errorf("rotate branch key: %w", err)
	}
	defer e.branches.unlock()
	v, k, err := e.rotate(ctx)
	if err != nil {
		return 0, fmt.Errorf("rotate branch key: %w", err)
	}
	e.branches.put(v, k, true, e.cfg.Now())
	return v, nil
}

func (e *Envelope) rotate(ctx context.Context) (int, *aesKey, error) {
	cur, err := e.readActive(ctx)
	switch {
	case errors.Is(err, errNoItem):
		return e.initBranch(ctx)
	case err != nil:
		return 0, nil, err
	case cur == maxVersion:
		return 0, nil, errors.New("no branch version left")
	}
	k, err := e.createBranch(ctx, cur+1)
	if err != nil {
		return 0, nil, err
	}
	won, err := e.putActive(ctx, cur+1, cur)
	if err != nil || won {
		return cur + 1, k, err
	}
	e.branches.put(cur+1, k, false, e.cfg.Now())
	return e.loadActive(ctx)
}

// initBranch creates branch key version 1 and the active pointer, or
// reads what a concurrent creator wrote.
func (e *Envelope) initBranch(ctx context.Context) (int, *aesKey, error) {
	k, err := e.createBranch(ctx, 1)
	if err != nil {
		return 0, nil, err
	}
	won, err := e.putActive(ctx, 1, 0)
	if err != nil || won {
		return 1, k, err
	}
	e.branches.put(1, k, false, e.cfg.Now())
	return e.loadActive(ctx)
}

// loadActive reads the active pointer and unwraps that version.
func (e *Envelope) loadActive(ctx context.Context) (int, *aesKey, error) {
	v, err := e.readActive(ctx)
	if err != nil {
		return 0, nil, err
	}
	k, err := e.cachedOrLoad(ctx, v)
	return v, k, err
}

// cachedOrLoad returns branch key version from the cache or loadBranch;
// the caller holds the fill lock.
func (e *Envelope) cachedOrLoad(ctx context.Context, version int) (*aesKey, error) {
	if k, ok := e.branches.get(version, e.cfg.Now()); ok {
		return k, nil
	}
	return e.loadBranch(ctx, version)
}

func (e *Envelope) readActive(ctx context.Context) (int, error) {
	item, err := e.getItem(ctx, branchPK, activeSK)
	if err != nil {
		return 0, fmt.Errorf("read active branch pointer: %w", err)
	}
	return versionAttr(item, attrVersion)
}

// putActive points the active pointer at version, if it still points at
// prev (0: if it does not exist yet). It reports whether it won.
func (e *Envelope) putActive(ctx context.Context, version, prev int) (bool, error) {
	in := &dynamodb.PutItemInput{
		TableName:           &e.cfg.KeysTable,
		Item:                itemKey(branchPK, activeSK),
		ConditionExpression: aws.String(condNotExists),
	}
	in.Item[attrVersion] = numAttr(int64(version))
	in.Item[attrCreatedAt] = numAttr(e.cfg.Now().Unix())
	if prev > 0 {
		in.ConditionExpression = aws.String(condVersionIs)
		in.ExpressionAttributeNames = map[string]string{"#v": attrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": numAttr(int64(prev))}
	}
	return e.putIfAbsent(ctx, in, "put active branch pointer")
}

// createBranch generates branch key version with KMS and stores it
// wrapped; if the version already exists it unwraps the stored one.
func (e *Envelope) createBranch(ctx context.Context, version int) (*aesKey, error) {
	e.stats.kmsGenerate.Add(1)
	cctx, cancel := deadline.Within(ctx, deadline.KMS, e.cfg.CallTimeout)
	out, err := e.kms.GenerateDataKey(cctx, &kms.GenerateDataKeyInput{
		KeyId:             &e.cfg.KeyID,
		KeySpec:           kmstypes.DataKeySpecAes256,
		EncryptionContext: branchContext(version),
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("generate branch key: %w", err)
	}
	k, err := newKey(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("generate branch key: %w", err)
	}
	in := &dynamodb.PutItemInput{
		TableName:           &e.cfg.KeysTable,
		Item:                itemKey(branchPK, branchSK(version)),
		ConditionExpression: aws.String(condNotExists),
	}
	in.Item[attrWrapped] = &types.AttributeValueMemberB{Value: out.CiphertextBlob}
	in.Item[attrCreatedAt] = numAttr(e.cfg.Now().Unix())
	won, err := e.putIfAbsent(ctx, in, "put branch key")
	if err != nil || won {
		return k, err
	}
	return e.loadBranch(ctx, version)
}

// loadBranch reads branch key version and unwraps it with KMS.
func (e *Envelope) loadBranch(ctx context.Context, version int) (*aesKey, error) {
	item, err := e.getItem(ctx, branchPK, branchSK(version))
	if err != nil {
		return nil, fmt.Errorf("read branch key: %w", err)
	}
	wrapped, err := binaryAttr(item, attrWrapped)
	if err != nil {
		return nil, fmt.Errorf("read branch key: %w", err)
	}
	e.stats.kmsDecrypt.Add(1)
	cctx, cancel := deadline.Within(ctx, deadline.KMS, e.cfg.CallTimeout)
	defer cancel()
	out, err := e.kms.Decrypt(cctx, &kms.DecryptInput{
		CiphertextBlob:    wrapped,
		KeyId:             &e.cfg.KeyID,
		EncryptionContext: branchContext(version),
	})
	if err != nil {
		return nil, fmt.Errorf("unwrap branch key: %w", err)
	}
	k, err := newKey(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("unwrap branch key: %w", err)
	}
	return k, nil
}

// branchContext is the KMS encryption context: non-personal values only,
// since CloudTrail logs it in clear.
func branchContext(version int) map[string]string {
	return map[string]string{"purpose": branchPurpose, "version": strconv.Itoa(version)}
}
