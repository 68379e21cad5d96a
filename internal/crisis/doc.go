// Package crisis owns when the picture becomes a crisis and what may happen to it then:
// escalation rules (configured, versioned, explained), the crisis itself with its level,
// status and timeline, and the transitions people may make. Evaluate proposes crises from
// the live picture's situations and campaigns and keeps them current; Crisis.Act applies
// an analyst's or liaison officer's action. It is pure logic: no I/O, no clock (callers
// pass the time), deterministic and independent of the order of its inputs.
//
// docs/crisis.md describes the rules, the levels, the statuses and the transitions.
package crisis
