package state

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clienting/clienting/scoring"
)

// publishedPrefix starts the fields that hold what was last published per
// segmentation (and the churn level under scoring.ChurnKey).
const publishedPrefix = "p:"

// decodeCustomer fills c from a flat HGETALL reply (field, value, ...).
func decodeCustomer(id string, reply any, c *scoring.Customer, bucketDays int) error {
	flat, ok := reply.([]any)
	if !ok {
		return fmt.Errorf("state: customer %q: reply is %T, want an array", id, reply)
	}
	*c = scoring.Customer{ID: id}
	buckets := map[int64]*scoring.Bucket{}
	bucket := func(day int64) *scoring.Bucket {
		b := buckets[day]
		if b == nil {
			b = &scoring.Bucket{Day: day}
			buckets[day] = b
		}
		return b
	}
	for i := 0; i+1 < len(flat); i += 2 {
		f, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		if f == "" {
			continue
		}
		if strings.HasPrefix(f, publishedPrefix) {
			if c.Published == nil {
				c.Published = make(map[string]string, 4)
			}
			c.Published[f[len(publishedPrefix):]] = v
			continue
		}
		switch f {
		case "ids":
			continue
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
				return fmt.Errorf("state: customer %q: field %q: %w", id, f, err)
			}
			switch f[0] {
			case 'b', 'v', 'g':
				day, err := strconv.ParseInt(f[1:], 10, 64)
				if err != nil {
					continue
				}
				b := bucket(day)
				switch f[0] {
				case 'b':
					b.Count = integer(v)
				case 'v':
					b.Money = integer(v)
				case 'g':
					b.Margin = integer(v)
				}
			}
		}
	}
	if len(buckets) > 0 {
		c.Window = make([]scoring.Bucket, 0, len(buckets))
		for _, b := range buckets {
			c.Window = append(c.Window, *b)
		}
		sort.Slice(c.Window, func(i, j int) bool { return c.Window[i].Day < c.Window[j].Day })
	}
	_ = bucketDays
	return nil
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
