// Command pinrec indexes a folder of images with ResNet50 embeddings and answers
// "more like this" queries from the index: on the terminal, as JSON, as a picture and as a web
// page.
//
//	pinrec index     [-model DIR] (-index FILE | -backend URL) [-workers N] [-embedding model|pixels] [-regions N] [-fast] [-allow-removals] DIR
//	pinrec query     [-model DIR] (-index FILE | -backend URL) [-k 5] [-crop x,y,w,h] [-dupes hide|show] [-json] [-grid OUT.png] IMAGE
//	pinrec similar   (-index FILE | -backend URL) [-k 5] [-rank visual|hybrid | -user U] [-dupes hide|show] [-json] [-grid OUT.png] ID
//	pinrec ls        (-index FILE | -backend URL)
//	pinrec stats     (-index FILE | -backend URL) [-json]
//	pinrec eval      (-index FILE | -backend URL) [-k 1,5,10] [-sample N] [-seed S] [-json]
//	pinrec dupes     (-index FILE | -backend URL) [-threshold auto|D] [-json] [-grid OUT.png]
//	pinrec serve     -index FILE [-model DIR] [-addr 127.0.0.1:8080] [-max-upload BYTES]
//	pinrec engage    -index FILE (-user U -action like|save|unsave|unlike ID... | -events FILE.csv|FILE.jsonl)
//	pinrec foryou    (-index FILE | -backend URL -db FILE) -user U [-k 10] [-seed S] [-json] [-grid OUT.png]
//	pinrec build-ann -index FILE [-target-recall R] [-m M] [-ef N] [-efc N] [-codec sq8|pca512-sq8|none] [-out FILE]
//	pinrec push      -index FILE -backend weaviate://HOST:PORT/COLLECTION
//	pinrec pull      -backend weaviate://HOST:PORT/COLLECTION -index FILE
//	pinrec version   [-json]
//
// An item's ID is its path relative to the indexed folder, with forward slashes. Running
// index again on the same folder syncs the index: new and changed files are embedded, deleted
// ones are dropped, unchanged ones are kept as they are. `pinrec CMD -h` describes each command;
// docs/command.md in the repository says more.
//
// Exit status: 0 on success (index also when some files were skipped), 1 on a failure, 2 for
// bad flags or arguments, 130 when interrupted (the index keeps what was done).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	_ "pinrec/examples/cli/internal/tfquiet" // no TensorFlow start-up lines on stderr
)

// command is one subcommand: run parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"index", "embed every image under a folder into an index file (syncs an existing index)", runIndex},
	{"query", "rank the indexed images by distance to a new image", runQuery},
	{"similar", "rank the indexed images by distance to an indexed item (leaving it out)", runSimilar},
	{"ls", "print the IDs of an index, one per line", runLs},
	{"stats", "print an index's item count, dimension, model and weights", runStats},
	{"eval", "precision@K and mAP@K of leave-one-out queries, label = parent folder", runEval},
	{"dupes", "group an index's near-duplicate and exact-duplicate images (threshold calibrated or given)", runDupes},
	{"engage", "record likes and saves (or import a CSV/JSON-lines file) in INDEX.engage.db", runEngage},
	{"foryou", "a \"For you\" feed from a user's likes and saves (pinrec engage)", runForYou},
	{"serve", "serve the index as a \"More like this\" web page and JSON API", runServe},
	{"build-ann", "build the approximate (HNSW) index of an index file: pinrec build-ann -h", runBuildANN},
	{"push", "copy an index file into a Weaviate collection: pinrec push -index FILE -backend weaviate://HOST:PORT/COLLECTION", runPush},
	{"pull", "copy a Weaviate collection into an index file: pinrec pull -backend URL -index FILE", runPull},
	{"version", "print pinrec's version, the CPU and the features that change pinrec's paths", runVersion},
}

// usageError is a bad flag or argument: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// errInterrupted ends a command stopped by SIGINT or SIGTERM: exit status 130.
var errInterrupted = errors.New("interrupted")

func main() {
	// TensorFlow's start-up chatter and log level are dealt with before main, by tfquiet.
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		printUsage(w)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name := args[0]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errInterrupted):
			fmt.Fprintf(stderr, "pinrec %s: %v\n", name, oneLine(err))
			return 130
		default:
			fmt.Fprintf(stderr, "pinrec %s: %v\n", name, oneLine(err))
			var ue usageError
			if errors.As(err, &ue) {
				return 2
			}
			return 1
		}
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	fmt.Fprintf(stderr, "pinrec: unknown command %q (commands: %s; pinrec -h for help)\n", name, strings.Join(names, ", "))
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "pinrec: content-based image recommendation (\"more like this\") with ResNet50 embeddings")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage:")
	fmt.Fprintln(w, "  pinrec index     [-model DIR] (-index FILE | -backend URL) [-workers N] [-embedding model|pixels] [-regions N] [-fast] [-allow-removals] DIR")
	fmt.Fprintln(w, "  pinrec query     [-model DIR] (-index FILE | -backend URL) [-k 5] [-crop x,y,w,h] [-dupes hide|show] [-json] [-grid OUT.png] IMAGE")
	fmt.Fprintln(w, "  pinrec similar   (-index FILE | -backend URL) [-k 5] [-rank visual|hybrid | -user U] [-dupes hide|show] [-json] [-grid OUT.png] ID")
	fmt.Fprintln(w, "  pinrec ls        (-index FILE | -backend URL)")
	fmt.Fprintln(w, "  pinrec stats     (-index FILE | -backend URL) [-json]")
	fmt.Fprintln(w, "  pinrec eval      (-index FILE | -backend URL) [-k 1,5,10] [-sample N] [-seed S] [-json]")
	fmt.Fprintln(w, "  pinrec dupes     (-index FILE | -backend URL) [-threshold auto|D] [-json] [-grid OUT.png]")
	fmt.Fprintln(w, "  pinrec serve     -index FILE [-model DIR] [-addr 127.0.0.1:8080] [-max-upload BYTES]")
	fmt.Fprintln(w, "  pinrec engage    -index FILE (-user U -action like|save|unsave|unlike ID... | -events FILE.csv|FILE.jsonl)")
	fmt.Fprintln(w, "  pinrec foryou    (-index FILE | -backend URL -db FILE) -user U [-k 10] [-seed S] [-json] [-grid OUT.png]")
	fmt.Fprintln(w, "  pinrec build-ann -index FILE [-target-recall R] [-m M] [-ef N] [-efc N] [-codec sq8|pca512-sq8|none] [-out FILE]")
	fmt.Fprintln(w, "  pinrec push      -index FILE -backend weaviate://HOST:PORT/COLLECTION")
	fmt.Fprintln(w, "  pinrec pull      -backend weaviate://HOST:PORT/COLLECTION -index FILE")
	fmt.Fprintln(w, "  pinrec version   [-json]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "An ID is the image's path relative to the indexed folder, with forward slashes.")
	fmt.Fprintln(w, "pinrec CMD -h describes the flags of CMD.")
}

// oneLine keeps an error message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// flagSet is a command's flags: errors come back through Parse's return value only, and -h
// prints the usage to stdout.
type flagSet struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

func newFlagSet(name, synopsis string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet("pinrec "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, stdout: stdout}
}

func (fs *flagSet) usage() {
	fmt.Fprintf(fs.stdout, "usage: %s %s\n", fs.Name(), fs.synopsis)
	fs.SetOutput(fs.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseArgs parses flags that may come before or after the positional arguments
// (`pinrec index DIR -index x.pinrec` works too) and checks the count of positional arguments.
func parseArgs(fs *flagSet, args []string, nargs int, argName string) ([]string, error) {
	pos, err := parseArgsAny(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != nargs {
		if len(pos) < nargs {
			return nil, usagef("missing %s argument (%s -h for help)", argName, fs.Name())
		}
		return nil, usagef("unexpected argument %q (%s -h for help)", pos[nargs], fs.Name())
	}
	return pos, nil
}

// requireIndexFlag returns a usage error when -index was not given.
func requireIndexFlag(path string) error {
	if path == "" {
		return usagef("-index FILE is required")
	}
	return nil
}

// parseArgsAny parses flags that may come before or after any number of positional arguments.
func parseArgsAny(fs *flagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.usage()
				return nil, err
			}
			return nil, usagef("%v (%s -h for help)", err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
