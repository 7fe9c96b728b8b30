package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"pinrec"
	"pinrec/foryou"
	"pinrec/web"
)

// pinrec foryou: a "For you" feed from a user's likes and saves (package pinrec/foryou), and
// pinrec similar -user U: "more like this" re-ranked by closeness to that user's interests.
// Both read the engagement database that pinrec engage writes (INDEX.engage.db, or -db).

// feedRow is one row of foryou -json.
type feedRow struct {
	Rank     int            `json:"rank"`
	ID       string         `json:"id"`
	Distance float32        `json:"distance"` // to the medoid of the interest it came from (0 in a cold start)
	Interest *foryou.Source `json:"interest,omitempty"`
	Region   *regionJSON    `json:"region,omitempty"`
}

// feedAnswer is what foryou -json prints.
type feedAnswer struct {
	User         string            `json:"user"`
	ColdStart    string            `json:"cold_start,omitempty"`
	Interests    []foryou.Interest `json:"interests"` // the interests drawn, most important first
	AllInterests int               `json:"all_interests"`
	Database     string            `json:"engagement_db"`
	Results      []feedRow         `json:"results"`
}

// openModel opens the engagement database of the store named by f (or db) and returns a
// foryou.Model over ix; the database may not exist yet (then every user gets the cold
// start). close closes the database.
func openModel(stderr io.Writer, cmd string, ix pinrec.Store, f storeFlags, db string, opts ...foryou.Option) (m *foryou.Model, path string, close func(), err error) {
	if db == "" && f.index == "" {
		return nil, "", nil, usagef("-user with -backend needs -db FILE")
	}
	path = engageDBPath(f.index, db)
	st, err := openEngagement(path, ix.Has)
	if err != nil {
		return nil, "", nil, err
	}
	var events foryou.Engagement
	close = func() {}
	if st != nil {
		events, close = st, func() { st.Close() }
	} else {
		fmt.Fprintf(stderr, "pinrec %s: no engagement database %s yet: no user has likes or saves (pinrec engage records them)\n", cmd, path)
	}
	m, err = foryou.New(ix, events, opts...)
	if err != nil {
		close()
		return nil, "", nil, err
	}
	return m, path, close, nil
}

func runForYou(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("foryou", "-index FILE -user U [-k 10] [-json] [-grid OUT.png] [-seed S] [-dupes hide|show] [-db FILE]", stdout)
	var store storeFlags
	store.register(fs, "(required)")
	user := fs.String("user", "", "the `user` whose likes and saves (pinrec engage) the feed is built from (required)")
	k := fs.Int("k", 10, "number of results")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	grid := fs.String("grid", "", "also write a PNG `file`: the most important drawn interest's medoid on the left, the feed beside it")
	seed := fs.Int64("seed", -1, "seed of the draw of interests (a feed that repeats); -1 draws afresh each run")
	db := fs.String("db", "", "engagement database `file` (default: INDEX.engage.db)")
	dupes := fs.String("dupes", dupesHide, "hide: leave out near-duplicates of the user's own items (threshold calibrated by pinrec dupes); show: keep them")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := store.check(); err != nil {
		return err
	}
	if *user == "" {
		return usagef("-user U is required")
	}
	if *k < 1 {
		return usagef("-k %d: want at least 1", *k)
	}
	if *dupes != dupesHide && *dupes != dupesShow {
		return usagef("-dupes %q: want hide or show", *dupes)
	}
	ix, err := openStore(ctx, store, 0)
	if err != nil {
		return err
	}
	defer ix.Close()
	m, path, closeDB, err := openModel(stderr, "foryou", ix, store, *db)
	if err != nil {
		return err
	}
	defer closeDB()
	var opts []foryou.Option
	if *seed >= 0 {
		opts = append(opts, foryou.WithSeed(uint64(*seed)))
	}
	if *dupes == dupesShow {
		opts = append(opts, foryou.WithDuplicateDistance(-1))
	}
	feed, err := m.ForYou(ctx, *user, *k, opts...)
	if err != nil && !errors.Is(err, pinrec.ErrEmptyIndex) {
		return err
	}
	if feed == nil {
		feed = &foryou.Feed{User: *user}
	}
	rows := make([]feedRow, len(feed.Results))
	for i, r := range feed.Results {
		rows[i] = feedRow{Rank: i + 1, ID: r.ID, Distance: r.Distance, Interest: r.Interest, Region: r.Region}
	}
	if *grid != "" {
		cells := make([]gridCell, len(feed.Results))
		for i, r := range feed.Results {
			cells[i] = gridCell{path: imagePath(ix, r.ID, r.Meta), name: r.ID, rank: i + 1, distance: r.Distance, region: r.Region}
		}
		head := gridCell{name: "for you: " + *user + " (cold start: " + feed.ColdStart + ")"}
		if len(feed.Interests) > 0 {
			top := feed.Interests[0].Medoid
			head = gridCell{path: imagePath(ix, top, nil), name: "interest " + top}
		}
		if err := writeGrid(*grid, head, cells, gridFooter(ix)+", \"for you\" of "+*user); err != nil {
			return err
		}
		defer fmt.Fprintf(stderr, "wrote %s\n", *grid)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(feedAnswer{User: *user, ColdStart: feed.ColdStart, Interests: feed.Interests, AllInterests: feed.AllInterests, Database: path, Results: rows})
	}
	if feed.ColdStart != "" {
		fmt.Fprintf(stdout, "for you: %s (cold start: %s: no likes or saves in the last %d days on indexed items)\n", *user, feed.ColdStart, int(foryou.DefaultWindow.Hours()/24))
	} else {
		fmt.Fprintf(stdout, "for you: %s (%d of %d interests drawn by importance)\n", *user, len(feed.Interests), feed.AllInterests)
		fmt.Fprintf(stdout, "%-10s  %4s  %10s  %s\n", "interest", "size", "importance", "medoid")
		for i, in := range feed.Interests {
			fmt.Fprintf(stdout, "%-10d  %4d  %10.4f  %s\n", i+1, in.Size, in.Importance, in.Medoid)
		}
	}
	fmt.Fprintf(stdout, "%4s  %10s  %8s  %s\n", "rank", "distance", "interest", "id")
	for _, r := range rows {
		from := "-"
		for i, in := range feed.Interests {
			if r.Interest != nil && in.Medoid == r.Interest.Medoid {
				from = fmt.Sprint(i + 1)
			}
		}
		fmt.Fprintf(stdout, "%4d  %10.4f  %8s  %s%s\n", r.Rank, r.Distance, from, r.ID, regionText(r.Region))
	}
	return nil
}

// personalRow is one row of similar -user U -json: the visual fields and the score's
// components (see package pinrec/foryou, Model.Similar).
type personalRow struct {
	web.Row
	Score            float64 `json:"score"`
	Visual           float64 `json:"visual"`
	Personal         float64 `json:"personal"`
	Interest         string  `json:"interest,omitempty"`
	InterestDistance float64 `json:"interest_distance,omitempty"`
}

type personalAnswer struct {
	Query        string        `json:"query"`
	User         string        `json:"user"`
	Rank         string        `json:"rank"`
	Personalised bool          `json:"personalised"`
	Blend        float64       `json:"blend"`
	Database     string        `json:"engagement_db"`
	Results      []personalRow `json:"results"`
}

// similarPersonal answers similar -user U: the item's neighbours re-ranked by closeness to
// the user's interests too.
func similarPersonal(ctx context.Context, stdout, stderr io.Writer, ix pinrec.Store, f searchFlags, db, user, id string) error {
	m, path, closeDB, err := openModel(stderr, "similar", ix, f.store, db)
	if err != nil {
		return err
	}
	defer closeDB()
	ans, err := m.Similar(ctx, user, id, f.k)
	if err != nil {
		return err
	}
	rows := make([]personalRow, len(ans.Results))
	for i, r := range ans.Results {
		rows[i] = personalRow{web.Row{Rank: i + 1, ID: r.ID, Distance: r.Distance, Region: r.Region}, r.Score, r.Visual, r.Personal, r.Interest, r.InterestDistance}
	}
	if f.grid != "" {
		cells := make([]gridCell, len(ans.Results))
		for i, r := range ans.Results {
			cells[i] = gridCell{path: imagePath(ix, r.ID, r.Meta), name: r.ID, rank: i + 1, distance: r.Distance, region: r.Region}
		}
		if err := writeGrid(f.grid, gridCell{path: imagePath(ix, id, nil), name: id}, cells, gridFooter(ix)+", personalised for "+user); err != nil {
			return err
		}
		defer fmt.Fprintf(stderr, "wrote %s\n", f.grid)
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(personalAnswer{Query: id, User: user, Rank: "personal", Personalised: ans.Personalised, Blend: ans.Blend, Database: path, Results: rows})
	}
	if ans.Personalised {
		fmt.Fprintf(stdout, "query: %s (for %s: score = %g*visual + %g*personal)\n", id, user, 1-ans.Blend, ans.Blend)
	} else {
		fmt.Fprintf(stdout, "query: %s (%s has no likes or saves: visual order)\n", id, user)
	}
	fmt.Fprintf(stdout, "%4s  %7s  %6s  %8s  %10s  %-20s  %s\n", "rank", "score", "visual", "personal", "distance", "interest", "id")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%4d  %7.4f  %6.4f  %8.4f  %10.4f  %-20s  %s\n", r.Rank, r.Score, r.Visual, r.Personal, r.Distance, r.Interest, r.ID)
	}
	return nil
}
