package state

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clienting/clienting/scoring"
)

// publishedPrefix starts the fields that hold what was last published per
// segmentation (and the churn level under scoring.ChurnKey).
const publishedPrefix = "p:"

// decodeLegacy decodes a customer's hash as release 1 wrote it (see the
// package doc, "Upgrade") into st. Event ids of the id memory are kept in
// the dedupe memory as if applied at the customer's latest event time.
func decodeLegacy(id string, hash map[string]string, st *State) error {
	st.reset(id)
	c := &st.Customer
	var ids string
	for f, v := range hash {
		switch {
		case f == "ids":
			ids = v
		case strings.HasPrefix(f, "o:"):
			i := strings.LastIndexByte(f, ':')
			part, err1 := strconv.Atoi(f[i+1:])
			off, err2 := strconv.ParseInt(v, 10, 64)
			if i <= 2 || err1 != nil || err2 != nil {
				return fmt.Errorf("state: customer %q: watermark %q=%q: want o:<topic>:<partition> = offset", id, f, v)
			}
			st.Watermarks = append(st.Watermarks, Watermark{Partition: PartitionOf(f[2:i], part), Offset: off})
		case strings.HasPrefix(f, sourcePrefix):
			seq, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("state: customer %q: field %q: %w", id, f, err)
			}
			st.Sources = append(st.Sources, SourceSeq{Source: f[len(sourcePrefix):], Seq: seq})
		default:
			if err := decodeField(c, f, v); err != nil {
				return fmt.Errorf("state: customer %q: field %q: %w", id, f, err)
			}
		}
	}
	sortWindow(c)
	last := unixOf(c.LastEvent)
	for i := 0; i+8 <= len(ids); i += 8 {
		st.Recent = append(st.Recent, RecentID{Hash: binary.BigEndian.Uint64([]byte(ids[i : i+8])), Time: last})
	}
	slices.SortFunc(st.Watermarks, func(a, b Watermark) int { return cmp.Compare(a.Partition, b.Partition) })
	slices.SortFunc(st.Sources, func(a, b SourceSeq) int { return strings.Compare(a.Source, b.Source) })
	return nil
}

// decodeField sets the part of c that hash field f with value v holds.
// Unknown fields (watermarks, ids) are ignored.
func decodeField(c *scoring.Customer, f, v string) error {
	if f != "" && f[0] >= '0' && f[0] <= '9' {
		return decodeBucket(c, f, v)
	}
	if strings.HasPrefix(f, publishedPrefix) {
		if c.Published == nil {
			c.Published = make(map[string]string, 5)
		}
		c.Published[f[len(publishedPrefix):]] = v
		return nil
	}
	switch f {
	case "fs":
		c.FirstSeen = unix(v)
	case "le":
		c.LastEvent = unix(v)
	case "fp":
		c.FirstPurchase = unix(v)
	case "lp":
		c.LastPurchase = unix(v)
	case "lc":
		c.LastComplaint = unix(v)
	case "lk":
		c.LastContact = unix(v)
	case "n":
		c.Purchases = integer(v)
	case "pd":
		c.PurchaseDays = integer(v)
	case "m":
		c.Money = integer(v)
	case "mg":
		c.Margin = integer(v)
	case "rf":
		c.Refunds = integer(v)
	case "rm":
		c.RefundMoney = integer(v)
	case "ct":
		c.Complaints = integer(v)
	case "c1", "c2", "c3", "c4":
		c.OpenBySeverity[f[1]-'0'] = integer(v)
	case "k":
		c.Contacts = integer(v)
	case "kc":
		c.ContactsSinceLastPurchase = integer(v)
	case "kr":
		c.Responses = integer(v)
	case "seq":
		c.Seq = integer(v)
	default:
		if err := decodeExtra(c, f, v); err != nil {
			return err
		}
		decodeLegacyBucket(c, f, v)
	}
	return nil
}

// decodeBucket decodes a rolling-window bucket: field <day>, value
// count:money[:margin].
func decodeBucket(c *scoring.Customer, f, v string) error {
	day, err := strconv.ParseInt(f, 10, 64)
	if err != nil {
		return err
	}
	count, rest, ok1 := strings.Cut(v, ":")
	money, margin, _ := strings.Cut(rest, ":")
	if !ok1 {
		return fmt.Errorf("bucket %q: want count:money[:margin]", v)
	}
	b := bucket(c, day)
	b.Count += integer(count)
	b.Money += integer(money)
	b.Margin += integer(margin)
	return nil
}

// decodeLegacyBucket decodes the bucket fields of hashes written before
// buckets were packed into one field: b<day>, v<day>, g<day> (sales, net
// money, net margin).
func decodeLegacyBucket(c *scoring.Customer, f, v string) {
	if len(f) < 2 || (f[0] != 'b' && f[0] != 'v' && f[0] != 'g') {
		return
	}
	day, err := strconv.ParseInt(f[1:], 10, 64)
	if err != nil {
		return
	}
	b := bucket(c, day)
	switch f[0] {
	case 'b':
		b.Count += integer(v)
	case 'v':
		b.Money += integer(v)
	case 'g':
		b.Margin += integer(v)
	}
}

// bucket returns c's window bucket of day, appending it when missing.
func bucket(c *scoring.Customer, day int64) *scoring.Bucket {
	for i := range c.Window {
		if c.Window[i].Day == day {
			return &c.Window[i]
		}
	}
	c.Window = append(c.Window, scoring.Bucket{Day: day})
	return &c.Window[len(c.Window)-1]
}

func sortWindow(c *scoring.Customer) {
	slices.SortFunc(c.Window, func(a, b scoring.Bucket) int {
		switch {
		case a.Day < b.Day:
			return -1
		case a.Day > b.Day:
			return 1
		}
		return 0
	})
}

func unix(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

func integer(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
