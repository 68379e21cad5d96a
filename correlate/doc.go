// Package correlate is COP's correlation engine: it deduplicates events, tracks who
// corroborated each observable, links events that share observables into situations and
// scores each situation with an explanation.
//
// It is pure and single-threaded: no Kafka, no ClickHouse, no goroutines of its own. The
// pipeline (correlate/pipeline) feeds it batches with Engine.Apply and takes its outputs;
// Engine.Tick re-scores for decay; Snapshot and Restore let a restarted correlator resume.
// Its memory is bounded: situations retire after Config.RetireAfter without an event, or
// oldest first beyond Config.MaxObservables and MaxSituations (retire.go).
package correlate
