module github.com/maskshare/maskshare

go 1.24

require (
	github.com/cloudflare/circl v1.6.5 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sync v0.24.0 // indirect
)
