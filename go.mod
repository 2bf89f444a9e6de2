module github.com/bnrun/bnrun

go 1.26.0

require (
	github.com/ebitengine/purego v0.9.1
	github.com/klauspost/cpuid/v2 v2.3.0
	golang.org/x/image v0.47.0
	google.golang.org/protobuf v1.36.11
)

require golang.org/x/sys v0.49.0 // indirect
