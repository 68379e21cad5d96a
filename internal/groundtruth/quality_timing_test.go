package groundtruth

import "testing"

// BenchmarkQuality measures the picture of 20,000 labelled events and reports its figures
// (cop bench quality runs the same on 100,000).
func BenchmarkQuality(b *testing.B) {
	evs, truth := generate(b, 20000, 1)
	b.ResetTimer()
	var r Report
	for b.Loop() {
		r = Measure(evs, truth, viewers, 5000)
	}
	b.ReportMetric(r.SituationsPer1k(), "situations/1k-events")
	b.ReportMetric(r.FragmentationMean, "fragmentation")
	b.ReportMetric(r.Impurity, "impurity")
	b.ReportMetric(r.MinPrecision(), "precision@10-min")
}
