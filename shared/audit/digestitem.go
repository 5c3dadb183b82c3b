package audit

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// digestItems is the stored form of a digest: a root item (sk "digest")
// holding everything but the heads, and parts (sk "part#0001", …) holding
// up to headsPerPart heads each. All carry the day, so the by-day index
// returns a day's digest with its events. A root is in format 2 (v 2,
// with late), or 1 for a digest parsed from format 1; parts are format 1.
func digestItems(d *Digest) []map[string]types.AttributeValue {
	pk := strAV(digestPrefix + d.Day)
	nParts := (len(d.Heads) + headsPerPart - 1) / headsPerPart
	root := map[string]types.AttributeValue{
		attrPK: pk, attrSK: strAV(digestSK), attrVersion: &types.AttributeValueMemberN{Value: formatV2},
		attrDay: strAV(d.Day), attrPrevHash: strAV(d.PrevHash.String()),
		attrCreatedAt: strAV(formatTime(d.CreatedAt)), attrParts: numAV(uint64(nParts)),
		attrHash: strAV(d.Hash.String()), attrSignature: &types.AttributeValueMemberB{Value: d.Signature},
		attrLate: &types.AttributeValueMemberBOOL{Value: d.Late},
	}
	if d.v1 {
		root[attrVersion] = &types.AttributeValueMemberN{Value: formatV1}
		delete(root, attrLate)
	}
	if d.PrevDay != "" {
		root[attrPrevDay] = strAV(d.PrevDay)
	}
	if !d.ExpiresAt.IsZero() {
		root[attrExpiresAt] = numAV(unixOrZero(d.ExpiresAt))
	}
	items := []map[string]types.AttributeValue{root}
	for i := range nParts {
		chunk := d.Heads[i*headsPerPart : min(len(d.Heads), (i+1)*headsPerPart)]
		l := make([]types.AttributeValue, len(chunk))
		for j, h := range chunk {
			l[j] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				attrChain: strAV(h.Chain), attrSeq: numAV(h.Seq), attrHash: strAV(h.Hash.String()), attrCount: numAV(h.Count),
			}}
		}
		part := map[string]types.AttributeValue{
			attrPK: pk, attrSK: strAV(partKey(i + 1)), attrVersion: &types.AttributeValueMemberN{Value: formatV1},
			attrDay: strAV(d.Day), attrHeads: &types.AttributeValueMemberL{Value: l},
		}
		if root[attrExpiresAt] != nil {
			part[attrExpiresAt] = root[attrExpiresAt]
		}
		items = append(items, part)
	}
	return items
}

// parseDigestRoot reads a root item; the heads come from its parts.
func parseDigestRoot(item map[string]types.AttributeValue) (*Digest, int, error) {
	r := itemReader{item: item}
	pkDay := strings.TrimPrefix(r.str(attrPK, true), digestPrefix)
	if r.str(attrSK, true) != digestSK && r.err == nil {
		r.err = errors.New("sk: not a digest root")
	}
	d := &Digest{v1: r.version(formatV1, formatV2) == formatV1}
	if !d.v1 {
		d.Late = r.boolean(attrLate)
	}
	d.Day, d.PrevDay = r.str(attrDay, true), r.str(attrPrevDay, false)
	d.PrevHash = r.hash(attrPrevHash)
	d.CreatedAt = r.time(attrCreatedAt)
	d.ExpiresAt = r.unix(attrExpiresAt)
	parts := r.num(attrParts, true)
	d.Hash = r.hash(attrHash)
	if av, ok := r.get(attrSignature, true); ok {
		if b, isB := av.(*types.AttributeValueMemberB); isB {
			d.Signature = b.Value
		} else {
			r.fail(attrSignature, "not binary")
		}
	}
	if err := r.done(); err != nil {
		return nil, 0, err
	}
	if pkDay != d.Day || !validDay(d.Day) || (d.PrevDay != "" && !validDay(d.PrevDay)) || parts > maxParts {
		return nil, 0, errors.New("digest: bad day, previous day or part count")
	}
	return d, int(parts), nil
}

// parseDigestPart reads a part item: its day, index and heads.
func parseDigestPart(item map[string]types.AttributeValue) (string, int, []Head, error) {
	r := itemReader{item: item}
	pkDay := strings.TrimPrefix(r.str(attrPK, true), digestPrefix)
	sk := r.str(attrSK, true)
	r.version(formatV1)
	day := r.str(attrDay, true)
	r.unix(attrExpiresAt)
	av, _ := r.get(attrHeads, true)
	if err := r.done(); err != nil {
		return "", 0, nil, err
	}
	idx, err := strconv.Atoi(strings.TrimPrefix(sk, partPrefix))
	if pkDay != day || err != nil || idx < 1 || idx > maxParts || sk != partKey(idx) {
		return "", 0, nil, errors.New("digest part: bad day or index")
	}
	l, ok := av.(*types.AttributeValueMemberL)
	if !ok || len(l.Value) == 0 || len(l.Value) > headsPerPart {
		return "", 0, nil, errors.New("digest part: heads not a list of 1 to 1000")
	}
	heads := make([]Head, len(l.Value))
	for i, v := range l.Value {
		if heads[i], err = parseHead(v); err != nil {
			return "", 0, nil, fmt.Errorf("digest part: head %d: %w", i, err)
		}
	}
	return day, idx, heads, nil
}

func parseHead(av types.AttributeValue) (Head, error) {
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		return Head{}, errors.New("not a map")
	}
	r := itemReader{item: m.Value}
	h := Head{Chain: r.str(attrChain, true), Seq: r.num(attrSeq, true), Count: r.num(attrCount, true)}
	h.Hash = r.hash(attrHash)
	if err := r.done(); err != nil {
		return Head{}, err
	}
	if !validChain(h.Chain) || h.Seq == 0 || h.Count == 0 || h.Count > h.Seq {
		return Head{}, errors.New("bad chain, sequence or count")
	}
	return h, nil
}

func validDay(s string) bool {
	t, err := parseDay(s)
	return err == nil && t.Format(dayLayout) == s
}

func sortHeads(h []Head) {
	slices.SortFunc(h, func(a, b Head) int { return strings.Compare(a.Chain, b.Chain) })
}
