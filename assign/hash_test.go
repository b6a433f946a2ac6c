package assign

import "testing"

// TestWorkedExample pins the numbers written out in doc.go.
func TestWorkedExample(t *testing.T) {
	if h := FNV32a("spring-saleuser-123456"); h != 3745995693 {
		t.Errorf("fnv32a(seed+value) = %d", h)
	}
	if h := FNV32a("3745995693"); h != 3428369753 {
		t.Errorf("fnv32a(decimal) = %d", h)
	}
	tests := []struct {
		version int
		want    float64
	}{{2, 0.9753}, {1, 0.813}, {0, 0.813}}
	for _, tt := range tests {
		if n, ok := Hash("spring-sale", "user-123456", tt.version); !ok || n != tt.want {
			t.Errorf("Hash v%d = %v, %v; want %v", tt.version, n, ok, tt.want)
		}
	}
	if _, ok := Hash("a", "b", 3); ok {
		t.Error("version 3 accepted")
	}
	if n := hashNamespace("checkout", "user-123456"); n != 0.676 {
		t.Errorf("namespace hash = %v", n)
	}
	if i := ChooseVariation(0.9753, BucketRanges(2, 1, nil)); i != 1 {
		t.Errorf("variation = %d", i)
	}
}
