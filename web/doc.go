// Package web serves a pinrec index as a "More like this" web site and JSON API: a grid of
// the indexed pins, an item page with its nearest pins (click one to pivot), upload and crop
// queries, category filters, likes and saves with a hybrid ranking (package pinrec/engage).
// `pinrec serve` runs it; a Go program mounts it as an http.Handler:
//
//	h, err := web.New(ix,                      // any pinrec.Store: *pinrec.Index, ann, weaviate
//		web.WithEmbedder(embedder),            // optional: upload and crop queries
//		web.WithEngagement(engageStore),       // optional: likes, saves, rank=hybrid
//	)
//	if err != nil { ... }
//	mux.Handle("/", h)
//
// Routes (IDs are escaped as one path segment with url.PathEscape, so "a/b c.jpg" is
// "a%2Fb%20c.jpg"; routes also accept unescaped slashes):
//
//	GET  /                      the grid of pins (?cat=C... filters, ?page=N)
//	GET  /item/{id}             the pin, its metadata and "More like this" (?k, ?cat, ?dedup, ?crop=x,y,w,h, ?rank)
//	POST /search                upload form (multipart "image", optional "crop"): 303 to its results page
//	GET  /search/{id}           an upload's results page (?k, ?cat), while the server keeps it
//	GET  /foryou                the visitor's "For you" feed from their own likes and saves (with WithEngagement)
//	GET  /dupes                 the collection's near-duplicate groups, largest first (?threshold)
//	GET  /api/similar/{id}      an Answer, or a HybridAnswer with ?rank=hybrid (?k, ?cat, ?dedup, ?crop)
//	POST /api/query             an Answer for an uploaded image (multipart "image"; ?k, ?crop, ?cat, ?dedup), with its "search" URL
//	GET  /api/items             {"total","offset","limit","items":[...]} (?offset, ?limit, ?cat)
//	POST /api/engage/{action}/{id}  like, unlike, save or unsave (with WithEngagement)
//	GET  /image/{id}            the bytes of an indexed pin's image file, nothing else
//	GET  /healthz               {"status":"ok","items":N}
//	GET  /static/...            the embedded CSS and JavaScript
//
// Against strangers: only allowed Host names are served (loopback by default,
// WithAllowedHosts), an Origin must be this server, visitors' IDs are signed by the server and
// their likes and saves limited per address and per visitor (Limits), engagement lifts a pin
// at most DefaultMaxLift in rank=hybrid, uploads wait for a slot before their body is read and
// go to a temporary file. Serve adds a connection cap, timeouts and a bounded shutdown.
//
// Answer and HybridAnswer are also what `pinrec similar -json` and `pinrec query -json`
// print: one type per answer for the command and the API.
//
// A page is a template in templates/ (executed inside templates/layout.html) and a handler
// in its own file; new pages register their routes in Server.routes.
package web
