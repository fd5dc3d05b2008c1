package shop_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/events"
	"github.com/clienting/clienting/internal/shop"
)

var start = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func all(t *testing.T, cfg shop.Config) ([]events.Event, *shop.Shop) {
	t.Helper()
	s, err := shop.New(cfg)
	require.NoError(t, err)
	var out []events.Event
	for {
		ev, ok := s.Next()
		if !ok {
			return out, s
		}
		out = append(out, ev)
	}
}

func TestDeterministic(t *testing.T) {
	cfg := shop.Config{Seed: 42, Customers: 300, Start: start, End: start.Add(200 * shop.Day)}
	a, _ := all(t, cfg)
	b, _ := all(t, cfg)
	require.NotEmpty(t, a)
	require.Equal(t, a, b)

	cfg.Seed = 43
	c, _ := all(t, cfg)
	require.NotEqual(t, a[:100], c[:100])
}

func TestUntilMatchesNext(t *testing.T) {
	cfg := shop.Config{Seed: 1, Customers: 200, Start: start, End: start.Add(120 * shop.Day)}
	want, _ := all(t, cfg)
	s, err := shop.New(cfg)
	require.NoError(t, err)
	var got []events.Event
	for now := start; now.Before(cfg.End.Add(shop.Day)); now = now.Add(13 * time.Hour) {
		n := len(got)
		got = s.Until(got, now)
		for _, ev := range got[n:] {
			require.False(t, ev.Time.After(now), "event %s at %s after %s", ev.ID, ev.Time, now)
		}
	}
	require.Equal(t, want, got)
	_, ok := s.Next()
	require.False(t, ok)
}

// TestEventsAreValid encodes every event with the events package's encoder
// and decodes it with the real decoder: each must come back equal.
func TestEventsAreValid(t *testing.T) {
	end := start.Add(365 * shop.Day)
	evs, s := all(t, shop.Config{Seed: 7, Customers: 500, Start: start, End: end, IDPrefix: "t {ü} "})
	dec, err := events.NewDecoder(events.DecoderConfig{Now: func() time.Time { return end }})
	require.NoError(t, err)

	ids := map[string]bool{}
	sales := map[string]events.Event{}
	opened := map[string]events.Event{}
	var last time.Time
	var buf []byte
	for _, ev := range evs {
		require.False(t, ev.Time.Before(last), "events out of order at %s", ev.ID)
		require.True(t, ev.Time.Before(end))
		require.True(t, !ev.Time.Before(start))
		last = ev.Time
		require.False(t, ids[ev.ID], "duplicate id %s", ev.ID)
		ids[ev.ID] = true

		buf = ev.AppendJSON(buf[:0], 2, "USD")
		got, err := dec.Decode([]byte(ev.CustomerID), buf, nil)
		require.NoError(t, err, "%s", buf)
		want := ev
		if want.Type == events.TypePurchase {
			want.Purchase.Currency = "USD"
		}
		require.Equal(t, want, got)

		switch ev.Type {
		case events.TypePurchase:
			if ev.Purchase.Refund {
				sale, ok := sales[ev.Purchase.OrderID]
				require.True(t, ok, "refund %s of an unknown order", ev.ID)
				require.Equal(t, sale.CustomerID, ev.CustomerID)
				require.LessOrEqual(t, ev.Purchase.Amount, sale.Purchase.Amount)
				require.True(t, ev.Time.After(sale.Time))
			} else {
				require.Positive(t, ev.Purchase.Amount)
				sales[ev.Purchase.OrderID] = ev
			}
		case events.TypeComplaint:
			if ev.Complaint.Resolved {
				o, ok := opened[ev.Complaint.ComplaintID]
				require.True(t, ok, "resolution %s of an unknown complaint", ev.ID)
				require.Equal(t, o.CustomerID, ev.CustomerID)
				require.Equal(t, o.Complaint.Severity, ev.Complaint.Severity)
			} else {
				opened[ev.Complaint.ComplaintID] = ev
			}
		case events.TypeContact:
			require.Equal(t, ev.Contact.Inbound, ev.Contact.CampaignID == "")
		}
	}
	st := s.Stats()
	require.Equal(t, len(evs), st.Events)
	require.Equal(t, st.Purchases+st.Refunds+st.Complaints+st.Resolved+st.Outbound+st.Inbound, st.Events)
}

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	require.InDelta(t, want, got, tol, "%s: got %.4f, want %.4f ± %.4f", name, got, want, tol)
}

func TestRatesAsConfigured(t *testing.T) {
	cfg := shop.Config{Seed: 3, Customers: 6000, Start: start, Acquisition: 180 * shop.Day, End: start.Add(540 * shop.Day)}
	evs, s := all(t, cfg)
	cfg = s.Config()

	var heavy int
	var lam, p float64
	var n int
	for _, pr := range s.Profiles() {
		if pr.Heavy {
			heavy++
			continue
		}
		lam += pr.Lambda
		p += pr.DropP
		n++
	}
	near(t, "heavy share", float64(heavy)/float64(cfg.Customers), cfg.HeavyShare, 0.015)
	near(t, "mean λ", lam/float64(n), cfg.R/cfg.Alpha, 0.1*cfg.R/cfg.Alpha)
	// complaints raise some dropout probabilities: allow for it above
	near(t, "mean p", p/float64(n), cfg.A/(cfg.A+cfg.B), 0.015)

	st := s.Stats()
	require.Equal(t, cfg.Customers, st.Joined)
	near(t, "refund rate", float64(st.Refunds)/float64(st.Purchases), cfg.RefundRate, 0.006)
	near(t, "complaint rate", float64(st.Complaints)/float64(st.Purchases), cfg.ComplaintRate, 0.005)
	near(t, "resolved share", float64(st.Resolved)/float64(st.Complaints), cfg.ResolveShare, 0.07)
	sev := st.BySeverity
	require.Greater(t, sev[events.SeverityLow], sev[events.SeverityMedium])
	require.Greater(t, sev[events.SeverityMedium], sev[events.SeverityHigh])
	require.Greater(t, sev[events.SeverityHigh], sev[events.SeverityCritical])
	require.Positive(t, sev[events.SeverityCritical])
	require.Positive(t, st.DroppedOut)
	require.Positive(t, st.Inbound)
	require.Positive(t, st.Responses)

	// 26 campaigns a year, each reaching CampaignReach of the customers
	// joined so far: all of them after the acquisition period
	campaigns := 0
	for t0 := cfg.Start.Add(cfg.CampaignInterval / 2); t0.Before(cfg.End); t0 = t0.Add(cfg.CampaignInterval) {
		campaigns++
	}
	require.Less(t, float64(st.Outbound), float64(campaigns*cfg.Customers)*cfg.CampaignReach)
	require.Greater(t, float64(st.Outbound), 0.7*float64(campaigns*cfg.Customers)*cfg.CampaignReach)

	// heavy-tailed spend: the top 10 % of customers bring far more than
	// 10 % of the revenue; Gamma-Gamma mean order ≈ p·γ/(q-1)
	money := map[string]int64{}
	var sales, total int64
	for _, ev := range evs {
		if ev.Type == events.TypePurchase && !ev.Purchase.Refund {
			money[ev.CustomerID] += ev.Purchase.Amount
			sales++
			total += ev.Purchase.Amount
		}
	}
	mean := float64(total) / float64(sales) / 100
	want := cfg.SpendP * cfg.SpendGamma / (cfg.SpendQ - 1)
	require.Greater(t, mean, 0.8*want, "mean order")
	require.Less(t, mean, 1.6*want, "mean order (heavy buyers spend 1.5x)")
	top := topShare(money, 0.1)
	require.Greater(t, top, 0.3, "top decile revenue share")
}

func topShare(m map[string]int64, frac float64) float64 {
	vals := make([]int64, 0, len(m))
	var total int64
	for _, v := range m {
		vals = append(vals, v)
		total += v
	}
	// partial selection is not worth it here
	for i := range vals {
		for j := i + 1; j < len(vals); j++ {
			if vals[j] > vals[i] {
				vals[i], vals[j] = vals[j], vals[i]
			}
		}
		if float64(i) >= frac*float64(len(vals)) {
			vals = vals[:i]
			break
		}
	}
	var top int64
	for _, v := range vals {
		top += v
	}
	return float64(top) / float64(total)
}

func TestBGNBDGaps(t *testing.T) {
	// one heavy-free customer kind with a fixed rate: λ ~ Gamma(r, α) with
	// a huge shape is nearly constant, and no dropout (p ≈ 0)
	cfg := shop.Config{Seed: 9, Customers: 400, Start: start, Acquisition: time.Hour, End: start.Add(400 * shop.Day),
		R: 1e4, Alpha: 1e4 * 10, A: 1e-3, B: 1e4, HeavyShare: 1e-9}
	evs, _ := all(t, cfg)
	last := map[string]time.Time{}
	var sum float64
	var n int
	for _, ev := range evs {
		if ev.Type != events.TypePurchase || ev.Purchase.Refund {
			continue
		}
		if l, ok := last[ev.CustomerID]; ok {
			sum += ev.Time.Sub(l).Hours() / 24
			n++
		}
		last[ev.CustomerID] = ev.Time
	}
	near(t, "mean gap days", sum/float64(n), 10, 0.5)
	require.False(t, math.IsNaN(sum))
}

func TestValidate(t *testing.T) {
	for name, cfg := range map[string]shop.Config{
		"customers": {Customers: -1},
		"share":     {RefundRate: 2},
		"rate":      {Alpha: -1},
		"campaign":  {CampaignInterval: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := shop.New(cfg)
			require.ErrorContains(t, err, "shop: ")
		})
	}
}
