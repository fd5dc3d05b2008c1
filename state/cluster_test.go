package state_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/clienting/clienting/internal/testenv"
)

// TestStoreCluster runs the store's behavior suite on the Redis Cluster
// (CLIENTING_TEST_REDIS_CLUSTER_ADDRS): customers and partition keys in
// different slots, each customer written by a script call of its own.
// Without the variable it is skipped, or fails in an integration run.
func TestStoreCluster(t *testing.T) {
	if testenv.ClusterMode() {
		t.Skip("TestStore runs the suite on the Redis Cluster in this pass")
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.RedisCluster(t), DisableIdentity: true})
	t.Cleanup(func() { _ = rdb.Close() })
	storeSuite(t, rdb)
}
