package telemetry

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboardNamesExportedMetrics: every metric the sample Grafana
// dashboard (docs/grafana-dashboard.json) queries is one Cachalot exports,
// so a renamed metric cannot leave an empty panel behind.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	tel := New(Config{PerNode: true})
	ch := make(chan *prometheus.Desc, 64)
	for _, c := range []prometheus.Collector{tel.requests, tel.latency, tel.runs, tel.runErrs, tel.runTime, tel.engine,
		tel.restarts, tel.failover, &cacheCollector{t: tel}, &nodeCollector{t: tel}} {
		c.Describe(ch)
	}
	close(ch)
	exported := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			exported[m[1]] = true
		}
	}
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`cachalot_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range used.FindAllString(tg.Expr, -1) {
				n++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if !exported[base] {
					t.Errorf("panel %q queries %s, which Cachalot does not export", p.Title, name)
				}
			}
		}
	}
	if n < 10 || !exported["cachalot_node_memory_bytes"] {
		t.Fatalf("read %d metric names from the dashboard and exported %v", n, exported)
	}
}
