module github.com/promolift/promolift/bench

go 1.26.8

replace github.com/promolift/promolift => ../

require github.com/tmaxmax/go-sse v0.10.0 // indirect

require (
	github.com/growthbook/growthbook-golang v0.7.0
	github.com/promolift/promolift v0.0.0-00010101000000-000000000000
)
