//go:build cluster

package weaviate

import "time"

// ClusterHosts, ClusterURL and ClusterScript give the external tests (package weaviate_test)
// the cluster that TestMain started.
var (
	ClusterHosts  = func() []string { return cluster.hosts }
	ClusterDir    = func() string { return cluster.dir }
	ClusterURL    = clusterURL
	ClusterScript = func(args ...string) (string, error) { return script(5*time.Minute, args...) }
)
