package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"pinrec"
	"pinrec/engage"
	"pinrec/web"
)

// The engagement commands: pinrec engage records likes and saves in the engagement database
// next to the index (INDEX.engage.db, package pinrec/engage); pinrec similar -rank hybrid
// re-ranks with them; pinrec stats counts them.

// engageDBPath returns the engagement database of an index: -db when given, else
// INDEX.engage.db.
func engageDBPath(index, db string) string {
	if db != "" {
		return db
	}
	return engage.PathFor(index)
}

func runEngage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "-index FILE (-user U -action like|save|unsave|unlike [-board B] ID... | -events FILE.csv|FILE.jsonl)"
	fs := newFlagSet("engage", synopsis, stdout)
	var store storeFlags
	store.register(fs, "(required; its items are the IDs events may name)")
	db := fs.String("db", "", "engagement database `file` (default: INDEX.engage.db next to -index)")
	user := fs.String("user", "", "the `user` who acted")
	action := fs.String("action", "", "like, save, unsave or unlike")
	board := fs.String("board", "", "the `board` a save went to (optional)")
	events := fs.String("events", "", "import events from a `file`: CSV with a header (user,item,action[,board][,time]) or JSON lines")
	batch := fs.Int("batch", 1000, "events per transaction when importing")
	ids, err := parseArgsAny(fs, args)
	if err != nil {
		return err
	}
	if err := store.check(); err != nil {
		return err
	}
	if *db == "" && store.index == "" {
		return usagef("-backend needs -db FILE: there is no index file to put the engagement database next to")
	}
	var list []engage.Event
	switch {
	case *events != "" && (len(ids) > 0 || *user != "" || *action != ""):
		return usagef("-events imports a file: give it without -user, -action and IDs")
	case *events != "":
		if list, err = readEventFile(*events); err != nil {
			return err
		}
	default:
		if *user == "" || *action == "" || len(ids) == 0 {
			return usagef("give -user, -action and at least one ID, or -events FILE (%s -h for help)", fs.Name())
		}
		a, err := engage.ParseAction(*action)
		if err != nil {
			return usagef("-action %q: want like, save, unsave or unlike", *action)
		}
		for _, id := range ids {
			list = append(list, engage.Event{User: *user, Item: id, Action: a, Board: *board})
		}
	}
	if *batch < 1 {
		return usagef("-batch %d: want at least 1", *batch)
	}
	// The web page's visitors have IDs of their own namespace (package web): no user here may
	// act as one of them.
	for i, e := range list {
		if strings.HasPrefix(e.User, web.VisitorPrefix) {
			where := "-user"
			if *events != "" {
				where = fmt.Sprintf("%s: event %d: user", *events, i+1)
			}
			return usagef("%s %q: names beginning with %q belong to the web page's visitors; nothing recorded", where, e.User, web.VisitorPrefix)
		}
	}
	ix, err := openStore(ctx, store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	// Refuse a file with any unknown ID before writing anything.
	for i, e := range list {
		if !ix.Has(e.Item) {
			where := ""
			if *events != "" {
				where = fmt.Sprintf("%s: event %d: ", *events, i+1)
			}
			return fmt.Errorf("%s%w: %q is not in %s (pinrec ls lists the IDs); nothing recorded", where, engage.ErrUnknownItem, e.Item, store)
		}
	}
	path := engageDBPath(store.index, *db)
	st, err := engage.Open(path, engage.WithKnownItems(ix.Has))
	if err != nil {
		return err
	}
	defer st.Close()
	var out engage.Outcome
	for lo := 0; lo < len(list); lo += *batch {
		o, err := st.Record(ctx, list[lo:min(lo+*batch, len(list))]...)
		if err != nil {
			return fmt.Errorf("%s: %w (%d events recorded before this batch)", path, err, lo)
		}
		out = out.Add(o)
		if ctx.Err() != nil {
			return errInterrupted
		}
	}
	fmt.Fprintf(stdout, "%d events: %d applied, %d unchanged, %d stale (%s)\n", len(list), out.Applied, out.Unchanged, out.Stale, path)
	return st.Close()
}

func readEventFile(path string) ([]engage.Event, error) {
	format, err := engage.FormatOf(path)
	if err != nil {
		return nil, usagef("-events %v", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var list []engage.Event
	if err := engage.ReadEvents(f, format, func(e engage.Event) error {
		list = append(list, e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%s: %w; nothing recorded", path, err)
	}
	return list, nil
}

// openEngagement opens the engagement database at path for reading, or returns nil when it
// does not exist (nothing was recorded yet).
func openEngagement(path string, known func(string) bool) (*engage.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return engage.Open(path, engage.WithKnownItems(known))
}

// hybridAnswer is what similar -rank hybrid prints with -json: the web API's hybrid answer
// (package pinrec/web), with the engagement database's path.
type hybridAnswer = web.HybridAnswer

// similarRanked answers similar -rank hybrid: the item's neighbours re-ranked with the
// engagement database (visual order when it does not exist yet).
func similarRanked(ctx context.Context, stdout, stderr io.Writer, ix pinrec.Store, f searchFlags, db, id string) error {
	path := engageDBPath(f.store.index, db)
	if db == "" && f.store.index == "" {
		return usagef("-rank hybrid with -backend needs -db FILE")
	}
	st, err := openEngagement(path, ix.Has)
	if err != nil {
		return err
	}
	var signals engage.Signals
	if st != nil {
		defer st.Close()
		signals = st
	} else {
		fmt.Fprintf(stderr, "pinrec similar: no engagement database %s yet: hybrid ranks by visual similarity (pinrec engage records likes and saves)\n", path)
	}
	rk, err := engage.NewRanker(ix, signals)
	if err != nil {
		return err
	}
	results, err := rk.Similar(ctx, id, f.k)
	if err != nil && !errors.Is(err, pinrec.ErrEmptyIndex) {
		return err
	}
	ans := web.NewHybridAnswer(id, rk.Weights(), results)
	ans.Database = path
	if f.grid != "" {
		cells := make([]gridCell, len(results))
		for i, r := range results {
			cells[i] = gridCell{path: imagePath(ix, r.ID, r.Meta), name: r.ID, rank: i + 1, distance: r.Distance}
		}
		if err := writeGrid(f.grid, gridCell{path: imagePath(ix, id, nil), name: id}, cells, gridFooter(ix)+", hybrid ranking"); err != nil {
			return err
		}
		defer fmt.Fprintf(stderr, "wrote %s\n", f.grid)
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ans)
	}
	fmt.Fprintf(stdout, "query: %s (hybrid: score = %s)\n", id, weightsFormula(engage.DefaultWeights()))
	fmt.Fprintf(stdout, "%4s  %7s  %6s  %6s  %6s  %5s  %8s  %10s  %s\n", "rank", "score", "visual", "engage", "co", "saves", "co-saves", "distance", "id")
	for _, r := range ans.Results {
		fmt.Fprintf(stdout, "%4d  %7.4f  %6.4f  %6.4f  %6.4f  %5d  %8d  %10.4f  %s\n",
			r.Rank, r.Score, r.Visual, r.Engagement, r.CoEngagement, r.Saves, r.CoSaves, r.Distance, r.ID)
	}
	return nil
}

func weightsFormula(w engage.Weights) string {
	return fmt.Sprintf("%g*visual + %g*engage + %g*co", w.Visual, w.Engagement, w.CoEngagement)
}

// engageStats is the engagement part of pinrec stats.
type engageStats struct {
	Database string `json:"database"`
	engage.Totals
}

// engagementStats returns the totals of the index's engagement database, or nil when there
// is none.
func engagementStats(ctx context.Context, index string) (*engageStats, error) {
	if index == "" {
		return nil, nil
	}
	path := engage.PathFor(index)
	st, err := openEngagement(path, nil)
	if err != nil || st == nil {
		return nil, err
	}
	defer st.Close()
	t, err := st.Totals(ctx)
	if err != nil {
		return nil, err
	}
	return &engageStats{Database: path, Totals: t}, nil
}

// printEngagementStats writes the stats lines of the engagement database.
func printEngagementStats(w io.Writer, s *engageStats) {
	if s == nil {
		fmt.Fprintf(w, "%-11s %s\n", "engagement:", "none recorded (pinrec engage)")
		return
	}
	fmt.Fprintf(w, "%-11s %d events by %d users: %d likes and %d saves now, on %d items; %d co-saved pairs (%s)\n",
		"engagement:", s.Events, s.Users, s.Likes, s.Saves, s.Items, s.Pairs, s.Database)
}
