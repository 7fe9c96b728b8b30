// Package engage records users' likes and saves of indexed items in a durable SQLite
// database and uses them to re-rank "more like this" answers.
//
// # Store
//
// [Store] keeps events (user, item, like|save|unsave|unlike, optional board, time) in one
// SQLite file next to the index ([PathFor]: INDEX.engage.db), through the pure-Go
// modernc.org/sqlite driver, in WAL mode with synchronous=FULL: when [Store.Record] returns,
// its events are on disk and survive the death of the process and of the machine. (WAL with
// synchronous=NORMAL, [WithSynchronousNormal], survives the process but may lose the last
// commits on power loss; the default does not take that trade.) The state of each (user,
// item, kind) follows its latest event by time, so duplicates and replays are no-ops (see
// [Outcome]). Per-item [Counts] and the item-to-item co-save table ([Store.CoSaved]) are
// derived from the state, in the same transaction by default ([Incremental]) or by one
// rebuild before the next read ([Deferred]).
//
// # Hybrid ranking
//
// [Ranker] answers "more like this" for an indexed item with any [pinrec.Searcher]: the
// visual top-C neighbours and the items co-saved with the query are scored by a blend of
// visual similarity, smoothed save rate and smoothed co-save rate with the query; see
// [Ranker.Similar] for the formula.
package engage
