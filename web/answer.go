package web

import (
	"net/url"

	"pinrec"
	"pinrec/engage"
)

// Answer is the JSON of a "more like this" answer by visual similarity: GET /api/similar/{id}
// and POST /api/query answer with it, and so do `pinrec similar -json` and `pinrec query -json`.
// The command leaves URL and Image empty (they are links into this server).
type Answer struct {
	// Query is the ID of the query item, or the file name of the query image.
	Query string `json:"query"`
	// Crop is the part of the query image that was embedded, when the query asked for one.
	Crop *pinrec.Rect `json:"crop,omitempty"`
	// Search is the server-side ID of an uploaded query (GET /search/{id} shows it again),
	// while the server keeps it.
	Search string `json:"search,omitempty"`
	// Far is true when even the nearest result is farther from the query than the index's
	// close-match distance: the answer holds no close matches (see WithCloseMatchDistance).
	Far bool `json:"far,omitempty"`
	// Hidden is how many near-duplicates the answer left out (WithNearDuplicates).
	Hidden  int   `json:"hidden,omitempty"`
	Results []Row `json:"results"`
}

// Row is one result of an Answer.
type Row struct {
	Rank     int     `json:"rank"`
	ID       string  `json:"id"`
	Distance float32 `json:"distance"`
	// Region is the pin's best-matching part, for an index with region items.
	Region *pinrec.Rect `json:"region,omitempty"`
	URL    string       `json:"url,omitempty"`   // the item page (web API only)
	Image  string       `json:"image,omitempty"` // the image bytes (web API only)
}

// HybridAnswer is the JSON of a "more like this" answer re-ranked with engagement: GET
// /api/similar/{id}?rank=hybrid and `pinrec similar -rank hybrid -json` answer with it.
type HybridAnswer struct {
	Query   string         `json:"query"`
	Rank    string         `json:"rank"` // "hybrid"
	Weights engage.Weights `json:"weights"`
	// Database is the engagement database's file (the command only).
	Database string      `json:"engagement_db,omitempty"`
	Hidden   int         `json:"hidden,omitempty"`
	Results  []HybridRow `json:"results"`
}

// HybridRow is one result of a HybridAnswer: the visual fields and the score's components
// (see engage.Ranker.Similar).
type HybridRow struct {
	Row
	Score        float64 `json:"score"`
	Visual       float64 `json:"visual"`
	Engagement   float64 `json:"engagement"`
	CoEngagement float64 `json:"co_engagement"`
	Saves        int     `json:"saves"`
	Users        int     `json:"users"`
	CoSaves      int     `json:"co_saves"`
}

// NewAnswer is the Answer of results for query, without links (as the command prints it).
func NewAnswer(query string, crop *pinrec.Rect, results []pinrec.Result) Answer {
	rows := make([]Row, len(results))
	for i, r := range results {
		rows[i] = Row{Rank: i + 1, ID: r.ID, Distance: r.Distance, Region: r.Region}
	}
	return Answer{Query: query, Crop: crop, Results: rows}
}

// NewHybridAnswer is the HybridAnswer of results for the item query, ranked with weights,
// without links.
func NewHybridAnswer(query string, weights engage.Weights, results []engage.Result) HybridAnswer {
	rows := make([]HybridRow, len(results))
	for i, r := range results {
		rows[i] = HybridRow{Row{Rank: i + 1, ID: r.ID, Distance: r.Distance, Region: r.Region},
			r.Score, r.Visual, r.Engagement, r.CoEngagement, r.Saves, r.Users, r.CoSaves}
	}
	return HybridAnswer{Query: query, Rank: "hybrid", Weights: weights, Results: rows}
}

// ItemURL is the path of an item's page on this server: the ID escaped as one path segment,
// slashes included ("a/b c.jpg" is /item/a%2Fb%20c.jpg).
func ItemURL(id string) string { return "/item/" + url.PathEscape(id) }

// ImageURL is the path of an item's image on this server.
func ImageURL(id string) string { return "/image/" + url.PathEscape(id) }

// linked fills the rows' URL and Image.
func linked(rows []Row) []Row {
	for i := range rows {
		rows[i].URL, rows[i].Image = ItemURL(rows[i].ID), ImageURL(rows[i].ID)
	}
	return rows
}
