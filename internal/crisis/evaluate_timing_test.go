package crisis

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cidcc/cop/internal/access"
	"github.com/cidcc/cop/internal/picture"
)

// BenchmarkEvaluate is one evaluation of a picture of 10,000 situations (a third linked
// on shared /24s, scores mostly low as in a real picture) holding the crises the first
// evaluation proposed: what cop serve pays each second the picture changed.
func BenchmarkEvaluate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	countries := []string{"EE", "FI", "DE", "IT", "BA", "SO", "PL", "FR", "LV", "LT"}
	sectors := []string{"energy", "telecom", "health", "transport", "submarine-cable", "defence"}
	var sits []*picture.Situation
	for i := range 10_000 {
		ip := ""
		if i%3 == 0 {
			ip = fmt.Sprintf("198.%d.%d.%d", 18+rng.IntN(2), rng.IntN(256), rng.IntN(256))
		}
		score := 40 * rng.Float64() * rng.Float64()
		s := sit(fmt.Sprintf("s-%05d", i), score, []string{countries[rng.IntN(10)], countries[rng.IntN(10)]},
			[]string{sectors[rng.IntN(6)]}, []string{"ee-cert", "fr-comcyber", "nl-ncsc"}[:1+rng.IntN(3)], ip)
		s.Category, s.Techniques = "cat-"+fmt.Sprint(rng.IntN(8)), []string{"T" + fmt.Sprint(1000+rng.IntN(20))}
		sits = append(sits, s)
	}
	in := Input{Rules: DefaultRules(), Missions: access.DefaultMissions(), Situations: sits, Now: t0}
	in.Crises = Evaluate(in).Updated
	in.Now = t0.Add(time.Second)
	// The baseline: grouping the same picture into campaigns, which Evaluate does too.
	b.Run("group-campaigns-baseline", func(b *testing.B) {
		for range b.N {
			picture.GroupCampaigns(sits, picture.CampaignConfig{})
		}
	})
	b.Run("evaluate", func(b *testing.B) {
		for range b.N {
			Evaluate(in)
		}
		b.ReportMetric(float64(len(in.Crises)), "crises")
	})
}
