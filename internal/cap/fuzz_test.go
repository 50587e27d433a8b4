package cap

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzUnmarshal: Unmarshal never panics, and whatever it accepts re-marshals and re-decodes
// to an equal alert. Seeded with every file of the corpus.
func FuzzUnmarshal(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 100<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Unmarshal(b)
		if err != nil {
			return
		}
		_ = Validate(a)
		out, err := Marshal(a)
		if err != nil {
			t.Fatalf("accepted alert does not marshal: %v", err)
		}
		a2, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("marshalled alert does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(a, a2) {
			t.Fatalf("round trip differs\n%s", out)
		}
	})
}

// FuzzParseFeed: ParseFeed never panics.
func FuzzParseFeed(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && len(b) < 100<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseFeed(b) })
}

func BenchmarkMarshalSign(b *testing.B) {
	key := rsaKey(b)
	cert := testCert(b, key, "bench")
	a := floodAlert(time.Date(2025, 8, 27, 12, 0, 0, 0, time.FixedZone("", 5*3600)))
	b.ReportAllocs()
	for b.Loop() {
		x, err := Marshal(a)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Sign(x, key, cert); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkVerifyUnmarshal(b *testing.B) {
	key := rsaKey(b)
	cert := testCert(b, key, "bench")
	a := floodAlert(time.Date(2025, 8, 27, 12, 0, 0, 0, time.FixedZone("", 5*3600)))
	x, _ := Marshal(a)
	signed, err := Sign(x, key, cert)
	if err != nil {
		b.Fatal(err)
	}
	trusted := []*x509.Certificate{cert}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(signed, trusted); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkUnmarshal(b *testing.B) {
	x, _ := Marshal(floodAlert(time.Date(2025, 8, 27, 12, 0, 0, 0, time.UTC)))
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
