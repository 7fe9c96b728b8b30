package engage

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadEvents(t *testing.T) {
	sec := time.Unix(1764514800, 0).UTC()
	tests := []struct {
		name    string
		format  Format
		in      string
		want    []Event
		wantErr string
	}{
		{"csv, any column order", CSV, "action,item,user,time,board\nsave,a/1.png,ann,2026-11-30T15:00:00Z,shoes\nlike,b.png,bob,1764514800,\n",
			[]Event{
				{User: "ann", Item: "a/1.png", Action: Save, Board: "shoes", Time: time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)},
				{User: "bob", Item: "b.png", Action: Like, Time: sec},
			}, ""},
		{"csv without time", CSV, "user,item,action\nann,\"x,y.png\",unsave\n", []Event{{User: "ann", Item: "x,y.png", Action: Unsave}}, ""},
		{"csv empty", CSV, "", nil, ""},
		{"csv missing column", CSV, "user,item\nann,a\n", nil, `no "action" column`},
		{"csv unknown column", CSV, "user,item,action,mood\n", nil, `unknown column "mood"`},
		{"csv bad action on line 3", CSV, "user,item,action\nann,a,save\nann,a,pin\n", nil, `line 3: engage: bad event: action "pin"`},
		{"csv bad time", CSV, "user,item,action,time\nann,a,save,yesterday\n", nil, `time "yesterday"`},
		{"jsonl", JSONLines, "{\"user\":\"ann\",\"item\":\"a\",\"action\":\"save\",\"time\":1764514800.5}\n\n{\"user\":\"bob\",\"item\":\"b\",\"action\":\"unlike\",\"board\":\"x\"}\n",
			[]Event{
				{User: "ann", Item: "a", Action: Save, Time: sec.Add(500 * time.Millisecond)},
				{User: "bob", Item: "b", Action: Unlike, Board: "x"},
			}, ""},
		{"jsonl time as string", JSONLines, `{"user":"ann","item":"a","action":"like","time":"2026-11-30T15:00:00Z"}`,
			[]Event{{User: "ann", Item: "a", Action: Like, Time: time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)}}, ""},
		{"jsonl unknown key", JSONLines, `{"user":"ann","item":"a","action":"like","mood":1}`, nil, "line 1"},
		{"jsonl empty user", JSONLines, `{"user":"","item":"a","action":"like"}`, nil, "empty user"},
		{"jsonl not json", JSONLines, "{\"user\":\"ann\",\"item\":\"a\",\"action\":\"like\"}\nnope\n", nil, "line 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []Event
			err := ReadEvents(strings.NewReader(tc.in), tc.format, func(e Event) error {
				got = append(got, e)
				return nil
			})
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrBadEvent)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Format
	}{{"a.csv", CSV}, {"A.CSV", CSV}, {"x/e.jsonl", JSONLines}, {"e.ndjson", JSONLines}, {"e.txt", ""}} {
		got, err := FormatOf(tc.path)
		assert.Equal(t, tc.want, got, tc.path)
		assert.Equal(t, tc.want == "", err != nil, tc.path)
	}
}
