package api

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestQueryTimeTakesRFC3339DatesAndAges(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f := func(v string, want time.Time, ok bool) {
		t.Helper()
		got, gotOK := queryTime(v, now)
		if gotOK != ok || ok && !got.Equal(want) {
			t.Errorf("queryTime(%q) = %v, %v; want %v, %v", v, got, gotOK, want, ok)
		}
	}
	f("2026-11-30T08:00:00Z", time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), true)
	f("2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true)
	f("24h", now.Add(-24*time.Hour), true)
	f("7d", now.Add(-7*24*time.Hour), true)
	f("2w", now.Add(-14*24*time.Hour), true)
	f("90m", now.Add(-90*time.Minute), true)
	f("yesterday", time.Time{}, false)
	f("7y", time.Time{}, false)
	f("-3d", time.Time{}, false)
	f("d", time.Time{}, false)
	f("01/12/2026", time.Time{}, false)
}

// Filters that name nothing COP knows are refused with the valid values, not answered
// with nothing.
func TestUnknownCountryOrSectorIsRefused(t *testing.T) {
	f := func(query, param string) {
		t.Helper()
		q, _ := url.ParseQuery(query)
		_, err := eventFilter(q)
		if err == nil || !strings.HasPrefix(err.Error(), param+": want ") {
			t.Errorf("%s: %v, want a refusal naming %s", query, err, param)
		}
	}
	f("country=est", "country")
	f("country=EE,ZZ", "country")
	f("sector=energie", "sector")
	q, _ := url.ParseQuery("country=ee,ba&sector=Energy")
	if got, err := eventFilter(q); err != nil || got.Sectors[0] != "energy" || got.Countries[1] != "BA" {
		t.Errorf("known values: %+v, %v", got, err)
	}
}
