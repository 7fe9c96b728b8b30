package main

import (
	"context"
	"fmt"
	"strconv"

	"pinrec"
	"pinrec/dupes"
)

// query and similar hide near-duplicates of higher-ranked results by default (-dupes hide):
// "N similar hidden", with -dupes show listing every result, near-duplicates marked.

// Values of -dupes.
const (
	dupesHide = "hide"
	dupesShow = "show"
)

// Index-level metadata of the near-duplicate distance that query, similar and index
// -report-dupes use: infoDupesThreshold, which a user may set to fix it, wins; else
// infoDupesCalibrated, which index records after each sync that changed the index; else a
// calibration from a sample of the index, at every run.
const (
	infoDupesThreshold  = "dupes_threshold"
	infoDupesCalibrated = "dupes_calibrated"
)

// calibrationSample is how many items query and similar search to calibrate the threshold.
const calibrationSample = 500

// hiddenRow is a result hidden as a near-duplicate, in -json output.
type hiddenRow struct {
	ID       string  `json:"id"`
	Distance float32 `json:"distance"` // to the query
}

// dupesView is what collapsing did to a result list: for report.
type dupesView struct {
	threshold float32
	rule      string
	show      bool                       // -dupes show: every result listed
	similarTo map[string]int             // -dupes show: result ID -> rank of the result it repeats (0: the query)
	hidden    map[string][]pinrec.Result // -dupes hide: shown ID -> near-duplicates hidden under it
	ofQuery   []pinrec.Result            // -dupes hide: copies of the query hidden
	count     int                        // results hidden (or, with show, marked)
}

// dupesThreshold returns the near-duplicate distance for s: the index's infoDupesThreshold
// when set, else its infoDupesCalibrated, else calibrated from a sample.
func dupesThreshold(ctx context.Context, s pinrec.Store) (dupes.Calibration, error) {
	info := s.Info()
	if v := info[infoDupesThreshold]; v != "" {
		t, err := strconv.ParseFloat(v, 32)
		if err != nil || !(t >= 0) {
			return dupes.Calibration{}, fmt.Errorf("index info %s=%q: want a distance of 0 or more", infoDupesThreshold, v)
		}
		return dupes.Calibrate(ctx, s, dupes.WithThreshold(float32(t)))
	}
	if t, err := strconv.ParseFloat(info[infoDupesCalibrated], 32); err == nil && t >= 0 {
		return dupes.Calibration{Threshold: float32(t), Rule: "index",
			Explanation: fmt.Sprintf("threshold %.4g calibrated by pinrec index (pinrec dupes explains it)", t)}, nil
	}
	return dupes.Calibrate(ctx, s, dupes.WithSample(calibrationSample))
}

// recordDupesThreshold calibrates the near-duplicate distance of ix from a sample and records
// it as infoDupesCalibrated, when the index changed or has none yet.
func recordDupesThreshold(ctx context.Context, ix pinrec.Store, changed bool) {
	if !changed && ix.Info()[infoDupesCalibrated] != "" {
		return
	}
	cal, err := dupes.Calibrate(ctx, ix, dupes.WithSample(calibrationSample))
	if err != nil {
		ix.SetInfo(infoDupesCalibrated, "") // calibrated again at every query
		return
	}
	ix.SetInfo(infoDupesCalibrated, strconv.FormatFloat(float64(cal.Threshold), 'g', -1, 32))
}

// collapsedSearch runs fetch for k results with near-duplicates hidden: it asks for 4k, then
// 4x more while fewer than k remain and the store has more. query is the query's vector (its
// copies are hidden too); mode is -dupes.
func collapsedSearch(ctx context.Context, s pinrec.Store, query []float32, k int, mode string,
	fetch func(n int) ([]pinrec.Result, error)) ([]pinrec.Result, *dupesView, error) {
	cal, err := dupesThreshold(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	total := s.Len()
	n := min(4*k, max(total, 1))
	for {
		raw, err := fetch(n)
		if err != nil {
			return nil, nil, err
		}
		c, err := dupes.Collapse(s, raw, cal.Threshold, dupes.WithQuery(query))
		if err != nil {
			return nil, nil, err
		}
		if len(c.Shown) < k && len(raw) == n && n < total {
			n = min(4*n, total)
			continue
		}
		c = c.Truncate(k)
		view := &dupesView{threshold: cal.Threshold, rule: cal.Rule, show: mode == dupesShow}
		last := float32(0)
		if len(c.Shown) > 0 {
			last = c.Shown[len(c.Shown)-1].Distance
		}
		if !view.show {
			view.hidden = make(map[string][]pinrec.Result)
			for _, sh := range c.Shown {
				if len(sh.Hidden) > 0 {
					view.hidden[sh.ID] = sh.Hidden
					view.count += len(sh.Hidden)
				}
			}
			for _, q := range c.OfQuery {
				if q.Distance <= last || len(c.Shown) == 0 {
					view.ofQuery = append(view.ofQuery, q)
				}
			}
			view.count += len(view.ofQuery)
			return c.Results(k), view, nil
		}
		// show: the first k raw results, those that repeat an earlier one marked.
		raw = raw[:min(k, len(raw))]
		view.similarTo = make(map[string]int)
		rank := make(map[string]int, len(raw))
		for i, r := range raw {
			rank[r.ID] = i + 1
		}
		for _, q := range c.OfQuery {
			if _, ok := rank[q.ID]; ok {
				view.similarTo[q.ID] = 0
			}
		}
		for _, sh := range c.Shown {
			for _, h := range sh.Hidden {
				if _, ok := rank[h.ID]; ok {
					view.similarTo[h.ID] = rank[sh.ID]
				}
			}
		}
		view.count = len(view.similarTo)
		return raw, view, nil
	}
}

// hiddenRows lists the near-duplicates hidden under id, for -json.
func (v *dupesView) hiddenRows(id string) []hiddenRow {
	if v == nil {
		return nil
	}
	var out []hiddenRow
	for _, h := range v.hidden[id] {
		out = append(out, hiddenRow{ID: h.ID, Distance: h.Distance})
	}
	return out
}

// note is the text after a result's row: "(+2 similar hidden)" or "(similar to #1)".
func (v *dupesView) note(id string) string {
	if v == nil {
		return ""
	}
	if v.show {
		if r, ok := v.similarTo[id]; ok {
			if r == 0 {
				return "  (near-duplicate of the query)"
			}
			return fmt.Sprintf("  (near-duplicate of #%d)", r)
		}
		return ""
	}
	if n := len(v.hidden[id]); n > 0 {
		return fmt.Sprintf("  (+%d similar hidden)", n)
	}
	return ""
}

// summary is the line after the table, or "".
func (v *dupesView) summary() string {
	if v == nil || v.count == 0 {
		return ""
	}
	if v.show {
		return fmt.Sprintf("%d near-duplicates marked (distance <= %.4g)", v.count, v.threshold)
	}
	s := fmt.Sprintf("%d similar hidden (near-duplicates within %.4g", v.count, v.threshold)
	if len(v.ofQuery) > 0 {
		s += fmt.Sprintf(", %d of them copies of the query", len(v.ofQuery))
	}
	return s + "); -dupes show lists them"
}
