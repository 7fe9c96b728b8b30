module example.com/pinrec-library

go 1.26.8

require pinrec v0.0.0

require (
	github.com/galeone/tensorflow/tensorflow/go v0.0.0-20221023090153-6b7fa0680c3e // indirect
	golang.org/x/image v0.48.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// pinrec's module path is not a URL, so go get cannot fetch it: point it at a checkout.
replace pinrec => ../..
