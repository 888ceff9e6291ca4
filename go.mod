module github.com/iomodels/iomodels

go 1.26.8

require golang.org/x/sys v0.50.0
