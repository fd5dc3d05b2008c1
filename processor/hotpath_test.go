package processor

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/scoring"
	"github.com/clienting/clienting/state"
)

// BenchmarkHotPath is a worker's work per event without its round trips:
// decode the Kafka message, decode the customer's state from the cache,
// apply the event to it (state.Apply), score it against what was
// published, encode the transitions and the customer's new value.
// "repeat" is a purchase of a customer whose segments stay; "first" is a
// new customer's first purchase, which publishes its four segments and
// churn level. The engine has a population of 2,000 customers and no
// model. The allocations are per event: those left are in the decoder, the
// engine and, for "first", the output ids.
func BenchmarkHotPath(b *testing.B) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store, err := state.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), state.Config{}) // never dialed
	if err != nil {
		b.Fatal(err)
	}
	dec, err := events.NewDecoder(events.DecoderConfig{Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := scoring.NewEngine(scoring.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Now: clock}, store, dec, engine, nil)
	if err != nil {
		b.Fatal(err)
	}
	env := scoring.Env{Population: population(engine, now)}
	p.SetEnv(env)
	names := testNames{}

	ev := events.Event{ID: "e-1001", Type: events.TypePurchase, CustomerID: "cust-000042", Time: now.Add(-time.Hour),
		Purchase: events.Purchase{OrderID: "o-778812", Amount: 4599, Currency: "USD", Margin: 1200, HasMargin: true, Items: 2, Channel: "web"}}
	msgs := []inMsg{{offset: 7, key: []byte(ev.CustomerID), value: ev.AppendJSON(nil, 2, "USD"), time: now}}

	for _, tc := range []struct {
		name        string
		customer    scoring.Customer
		transitions int
	}{
		{"repeat", settled(engine, env, customer(ev.CustomerID, now, 8, rand.New(rand.NewPCG(1, 2))), now), 0},
		{"first", scoring.Customer{ID: ev.CustomerID}, 5},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := p.newWorker("customer.events", 0, 0, nil)
			w.cache = newStateCache(10, p.cacheMetrics)
			// the customer's value, as the previous batch left it in the cache
			cached, err := state.AppendValue(nil, &state.State{Customer: tc.customer}, names)
			if err != nil {
				b.Fatal(err)
			}
			var val []byte
			run := func() {
				w.decode(msgs)
				w.cache.put(ev.CustomerID, cached)
				pend := w.view(ev.CustomerID)
				if err := state.DecodeValue(ev.CustomerID, w.hitValues[0], pend.st, names); err != nil {
					b.Fatal(err)
				}
				w.startViews()
				w.apply(msgs, now)
				var err error
				if val, err = state.AppendValue(val[:0], pend.st, names); err != nil {
					b.Fatal(err)
				}
			}
			run()
			if len(w.out) != tc.transitions {
				b.Fatalf("%d transitions, want %d", len(w.out), tc.transitions)
			}
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// testNames numbers names by a hash, for encoding values without Redis.
type testNames map[uint64]string

func (n testNames) ID(name string) (uint64, bool) {
	h := uint64(14695981039346656037)
	for i := range len(name) {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	h &= 1<<20 - 1
	n[h] = name
	return h, true
}

func (n testNames) Name(id uint64) (string, bool) {
	s, ok := n[id]
	return s, ok
}

// customer is a customer with n purchases about a month apart, the last an
// hour before now.
func customer(id string, now time.Time, n int, r *rand.Rand) scoring.Customer {
	c := scoring.Customer{ID: id}
	for i := range n {
		t := now.Add(-time.Hour - time.Duration(n-1-i)*time.Duration(30+r.IntN(10))*24*time.Hour).Truncate(time.Second)
		amount := int64(2000 + r.IntN(8000))
		if c.FirstSeen.IsZero() {
			c.FirstSeen, c.FirstPurchase = t, t
		}
		c.LastEvent, c.LastPurchase = t, t
		c.Purchases++
		c.PurchaseDays++
		c.Money += amount
		c.Margin += amount / 4
		day := t.Unix() / 86400 / 7 * 7
		if k := len(c.Window); k > 0 && c.Window[k-1].Day == day {
			c.Window[k-1].Count++
			c.Window[k-1].Money += amount
			c.Window[k-1].Margin += amount / 4
		} else {
			c.Window = append(c.Window, scoring.Bucket{Day: day, Count: 1, Money: amount, Margin: amount / 4})
		}
	}
	return c
}

// settled returns c as it is once its evaluation has been published.
func settled(e *scoring.Engine, env scoring.Env, c scoring.Customer, now time.Time) scoring.Customer {
	r := e.Evaluate(&c, env, now)
	c.Published = map[string]string{}
	for _, a := range r.Segments {
		c.Published[a.Segmentation] = a.Segment
	}
	if r.Churn.Level != "" {
		c.Published[scoring.ChurnKey] = r.Churn.Level
	}
	c.Scores, c.Contrib, c.Seq = r.Scores.Packed(), r.Contrib, 5
	return c
}

// population is the population of 2,000 customers of 1 to 12 purchases.
func population(e *scoring.Engine, now time.Time) *scoring.Population {
	pop := scoring.NewPopulation(now)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		c := customer("p-"+strconv.Itoa(i), now, 1+r.IntN(12), r)
		pop.Add(e.Evaluate(&c, scoring.Env{}, now).Contrib, 1)
	}
	return pop
}
