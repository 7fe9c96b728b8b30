package engage

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Format is an event file's format.
type Format string

// The event file formats [ReadEvents] reads.
//
// CSV: a header row naming the columns user, item, action and optionally board and time, in
// any order, then one event per row. JSON lines: one object per line with the keys user,
// item, action and optionally board and time; blank lines are skipped. A time is RFC 3339
// ("2026-11-30T15:04:05Z") or Unix seconds (an integer or a decimal); an empty or absent time
// means "when recorded", in file order.
const (
	CSV       Format = "csv"
	JSONLines Format = "jsonl"
)

// FormatOf returns the format a file name's extension names: .csv, or .jsonl / .ndjson.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONLines, nil
	}
	return "", fmt.Errorf("%s: want a .csv or .jsonl event file", path)
}

// ReadEvents reads events from r in the given format and calls yield for each, in order,
// stopping at the first error (wrapping [ErrBadEvent] for a malformed record, with its line).
func ReadEvents(r io.Reader, format Format, yield func(Event) error) error {
	switch format {
	case CSV:
		return readCSV(r, yield)
	case JSONLines:
		return readJSONLines(r, yield)
	}
	return fmt.Errorf("engage: event format %q: want csv or jsonl", format)
}

func readCSV(r io.Reader, yield func(Event) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "user", "item", "action", "board", "time":
			col[h] = i
		default:
			return fmt.Errorf("%w: line 1: unknown column %q (want user, item, action, board, time)", ErrBadEvent, h)
		}
	}
	for _, need := range []string{"user", "item", "action"} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%w: line 1: no %q column", ErrBadEvent, need)
		}
	}
	field := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadEvent, err)
		}
		e, err := makeEvent(field(rec, "user"), field(rec, "item"), field(rec, "action"), field(rec, "board"), field(rec, "time"))
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := yield(e); err != nil {
			return err
		}
	}
}

func readJSONLines(r io.Reader, yield func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var rec struct {
			User, Item, Action, Board string
			Time                      json.RawMessage
		}
		dec := json.NewDecoder(strings.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("line %d: %w: %v", line, ErrBadEvent, err)
		}
		t := strings.TrimSpace(string(rec.Time))
		if t == "null" {
			t = ""
		}
		if s, err := strconv.Unquote(t); err == nil {
			t = s
		}
		e, err := makeEvent(rec.User, rec.Item, rec.Action, rec.Board, t)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := yield(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%w: a line over 1 MiB", ErrBadEvent)
		}
		return err
	}
	return nil
}

func makeEvent(user, item, action, board, when string) (Event, error) {
	a, err := ParseAction(action)
	if err != nil {
		return Event{}, err
	}
	e := Event{User: user, Item: item, Action: a, Board: board}
	if e.User == "" || e.Item == "" {
		return Event{}, fmt.Errorf("%w: empty user or item", ErrBadEvent)
	}
	if when == "" {
		return e, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, when); err == nil {
		e.Time = t
		return e, nil
	}
	sec, err := strconv.ParseFloat(when, 64)
	if err != nil || sec <= 0 || sec > 1e11 {
		return Event{}, fmt.Errorf("%w: time %q: want RFC 3339 or Unix seconds", ErrBadEvent, when)
	}
	whole := int64(sec)
	e.Time = time.Unix(whole, int64((sec-float64(whole))*1e9)).UTC()
	return e, nil
}
