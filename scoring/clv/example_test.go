package clv_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/clienting/clienting/scoring/clv"
)

// Fit the models to the CDNOW sample in weeks over the calibration period
// of Fader, Hardie & Lee (2005), and score one customer.
func Example() {
	f, err := os.Open("testdata/CDNOW_sample.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	txs, err := clv.ReadTransactions(f, clv.FormatCDNOWSample)
	if err != nil {
		log.Fatal(err)
	}
	week := 7 * 24 * time.Hour
	end := time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)
	p, err := clv.Fit(clv.Summarize(txs, end, week), clv.FitOptions{TimeUnit: week, Now: end})
	if err != nil {
		log.Fatal(err)
	}
	bg, gg := p.BGNBD, p.GammaGamma
	fmt.Printf("BG/NBD: r=%.3f alpha=%.3f a=%.3f b=%.3f LL=%.1f\n", bg.R, bg.Alpha, bg.A, bg.B, p.LogLik)
	fmt.Printf("Gamma-Gamma: p=%.2f q=%.2f gamma=%.2f\n", gg.P, gg.Q, gg.Gamma)

	// Customer 00004: repeat purchases in weeks 2.4 and 30.4 worth $22.35
	// on average, observed for 38.9 weeks.
	s := clv.Summary{X: 2, TX: 30.43, T: 38.86, Mean: 22.35}
	fmt.Printf("P(alive) = %.3f\n", bg.PAlive(s.X, s.TX, s.T))
	fmt.Printf("expected purchases in weeks 40-78: %.3f\n", bg.ConditionalExpectedPurchases(39, s.X, s.TX, s.T))
	fmt.Printf("expected value per purchase: $%.2f\n", gg.ConditionalExpectedValue(s.X, s.Mean))
	fmt.Printf("CLV over 52 weeks at 10 %%/year: $%.2f\n", clv.CLV(p, s, 52, 0.10/52))
	// Output:
	// BG/NBD: r=0.243 alpha=4.414 a=0.793 b=2.426 LL=-9582.4
	// Gamma-Gamma: p=6.25 q=3.74 gamma=15.44
	// P(alive) = 0.727
	// expected purchases in weeks 40-78: 1.226
	// expected value per purchase: $24.66
	// CLV over 52 weeks at 10 %/year: $36.67
}

func ExampleBGNBD_PAlive() {
	m := clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	// Seven repeat purchases, the last in week 5, silent since: probably gone.
	fmt.Printf("%.4f\n", m.PAlive(7, 5, 38.86))
	// The same purchases, the last in week 38: probably active.
	fmt.Printf("%.4f\n", m.PAlive(7, 38, 38.86))
	// No repeat purchase: the model lets customers drop out only after one.
	fmt.Printf("%.4f\n", m.PAlive(0, 0, 38.86))
	// Output:
	// 0.0002
	// 0.9018
	// 1.0000
}
