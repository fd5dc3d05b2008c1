package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clienting/clienting/scoring"
)

// TestFitCDNOW reproduces the BG/NBD fit of Fader, Hardie & Lee (2005) on
// the CDNOW sample: r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4.
func TestFitCDNOW(t *testing.T) {
	var out, errOut bytes.Buffer
	err := dispatch(context.Background(), []string{"fit", "--json",
		"--file", "../../scoring/clv/testdata/CDNOW_sample.txt", "--format", "cdnow-sample", "--end", "1997-09-30"},
		&out, &errOut)
	require.NoError(t, err, errOut.String())
	var m scoring.Model
	require.NoError(t, json.Unmarshal(out.Bytes(), &m))
	require.Equal(t, 2357, m.N)
	require.InDelta(t, 0.243, m.BGNBD.R, 0.001)
	require.InDelta(t, 4.414, m.BGNBD.Alpha, 0.005)
	require.InDelta(t, 0.793, m.BGNBD.A, 0.001)
	require.InDelta(t, 2.426, m.BGNBD.B, 0.005)
	require.InDelta(t, -9582.4, m.LogLik, 0.1)
	require.True(t, m.HasGG)

	out.Reset()
	require.NoError(t, dispatch(context.Background(), []string{"fit",
		"--file", "../../scoring/clv/testdata/CDNOW_sample.txt", "--format", "cdnow-sample", "--end", "1997-09-30"},
		&out, &errOut))
	require.Contains(t, out.String(), "r=0.2426 alpha=4.4136 a=0.7929 b=2.4259")
	require.Contains(t, out.String(), "-9582.43")
}

func TestFitErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fit"}, "--file or --redis"},
		{[]string{"fit", "--file", "x.bin"}, "--format"},
		{[]string{"fit", "--file", "x.csv", "--format", "excel"}, "--format"},
		{[]string{"fit", "--file", "../../scoring/clv/testdata/CDNOW_sample.txt", "--format", "cdnow-sample", "--end", "soon"}, "--end"},
		{[]string{"fit", "--file", "/nonexistent.csv"}, "nonexistent"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := dispatch(context.Background(), tc.args, &out, &errOut)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
