package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pinrec"
	"pinrec/web"
)

// A program outside the pinrec module mounts the web page (package pinrec/web) under its own
// mux, and both the page and the JSON API answer from the index: the nearest pin to
// red-dress is red-skirt (distance sqrt(0.2^2 + 0.3^2) = 0.3606), then blue-dress and
// green-bag at sqrt(2).
func TestMountWeb(t *testing.T) {
	ix, err := pinrec.NewIndex(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(pins...); err != nil {
		t.Fatal(err)
	}
	h, err := web.New(ix, web.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}

	code, ctype, page := get("/item/red-dress")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("GET /item/red-dress: %d %s\n%s", code, ctype, page)
	}
	if !strings.Contains(page, `href="/item/red-skirt"`) {
		t.Errorf("the item page does not link its nearest pin red-skirt:\n%s", page)
	}

	code, ctype, body := get("/api/similar/red-dress?k=3")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("GET /api/similar/red-dress: %d %s\n%s", code, ctype, body)
	}
	var ans web.Answer
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Query != "red-dress" || len(ans.Results) != 3 {
		t.Fatalf("answer %+v", ans)
	}
	first := ans.Results[0]
	if first.ID != "red-skirt" || first.Rank != 1 || first.URL != "/item/red-skirt" || first.Image != "/image/red-skirt" {
		t.Errorf("first result %+v, want red-skirt with its links", first)
	}
	if d := float64(first.Distance); d < 0.3605 || d > 0.3607 {
		t.Errorf("red-skirt at distance %v, want 0.3606", d)
	}
}
