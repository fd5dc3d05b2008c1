package state

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clienting/clienting/scoring"
)

// PopulationKey is the key of a partition's population histograms: a hash
// of bin counts, fields r<bin>, f<bin>, m<bin>, t<bin> (recency, frequency,
// monetary, tenure; bins as in scoring.Contrib).
func (s *Store) PopulationKey(topic string, partition int) string {
	return s.cfg.Prefix + ":pop:{" + topic + ":" + strconv.Itoa(partition) + "}"
}

// SegmentsKey is the key of a partition's segment populations: a hash of
// counts, fields <segmentation>:<segment> (churn:<level> for churn risk).
func (s *Store) SegmentsKey(topic string, partition int) string {
	return s.cfg.Prefix + ":seg:{" + topic + ":" + strconv.Itoa(partition) + "}"
}

func contribFields(c scoring.Contrib) [4]string {
	return [4]string{
		"r" + strconv.FormatInt(int64(c.Recency), 10),
		"f" + strconv.FormatInt(int64(c.Frequency), 10),
		"m" + strconv.FormatInt(int64(c.Monetary), 10),
		"t" + strconv.FormatInt(int64(c.Tenure), 10),
	}
}

// Populations is what ReadPopulations returns: the merged histograms and
// the segment populations of every partition of the topics read.
type Populations struct {
	Population *scoring.Population
	// Segments counts customers by segmentation and segment.
	Segments map[string]map[string]int64
}

// ReadPopulations reads and merges the population histograms and segment
// counts of the given partitions, in one pipelined round trip.
func (s *Store) ReadPopulations(ctx context.Context, parts map[string][]int, asOf time.Time) (*Populations, error) {
	type req struct{ pop, seg *redis.MapStringStringCmd }
	var reqs []req
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for topic, ps := range parts {
			for _, part := range ps {
				reqs = append(reqs, req{
					pop: p.HGetAll(ctx, s.PopulationKey(topic, part)),
					seg: p.HGetAll(ctx, s.SegmentsKey(topic, part)),
				})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: read populations: %w", ErrUnavailable, err)
	}
	out := &Populations{Population: scoring.NewPopulation(asOf), Segments: map[string]map[string]int64{}}
	pop := out.Population
	for _, r := range reqs {
		for f, v := range r.pop.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || len(f) < 2 || n == 0 {
				continue
			}
			bin, err := strconv.ParseInt(f[1:], 10, 32)
			if err != nil {
				continue
			}
			switch f[0] {
			case 'r':
				pop.Recency.AddBin(int32(bin), n)
			case 'f':
				pop.Frequency.AddBin(int32(bin), n)
			case 'm':
				pop.Monetary.AddBin(int32(bin), n)
			case 't':
				pop.Tenure.AddBin(int32(bin), n)
			}
		}
		for f, v := range r.seg.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			name, seg, ok := strings.Cut(f, ":")
			if err != nil || !ok {
				continue
			}
			if out.Segments[name] == nil {
				out.Segments[name] = map[string]int64{}
			}
			out.Segments[name][seg] += n
		}
	}
	return out, nil
}
