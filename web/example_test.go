package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"pinrec"
	"pinrec/web"
)

// A program serves its index as the web page: web.New builds the handler, any mux or server
// mounts it. (web.Serve adds a connection cap, timeouts and a bounded shutdown.)
func ExampleNew() {
	ix, _ := pinrec.NewIndex(2)
	ix.Add(pinrec.Item{ID: "a", Vector: []float32{0, 0}}, pinrec.Item{ID: "b", Vector: []float32{3, 4}},
		pinrec.Item{ID: "c", Vector: []float32{6, 8}})
	h, err := web.New(ix, web.WithLogger(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(h) // 127.0.0.1: a loopback name, which the handler accepts
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/similar/a?k=2")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var a web.Answer
	json.NewDecoder(resp.Body).Decode(&a)
	for _, r := range a.Results {
		fmt.Println(r.Rank, r.ID, r.Distance, r.URL)
	}
	// Output:
	// 1 b 5 /item/b
	// 2 c 10 /item/c
}
