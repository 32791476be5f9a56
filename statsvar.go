package uring

import "encoding/json"

// StatsVar is a Ring's Stats as an expvar.Var: publish it with
// expvar.Publish(name, r.StatsVar()) and /debug/vars shows the counters, as
// JSON, each time it is read. The package does not import expvar itself, so
// using the Ring registers no HTTP handler.
type StatsVar struct{ r *Ring }

// StatsVar returns r's counters as an expvar.Var.
func (r *Ring) StatsVar() StatsVar { return StatsVar{r} }

// String returns the Stats as a JSON object, with ParksPerOp and EntersPerOp.
func (v StatsVar) String() string {
	st := v.r.Stats()
	b, err := json.Marshal(struct {
		Stats
		ParksPerOp  float64
		EntersPerOp float64
	}{st, st.ParksPerOp(), st.EntersPerOp()})
	if err != nil {
		return "{}"
	}
	return string(b)
}
