module github.com/enmasse-go/enmasse

go 1.26.8

require (
	github.com/Azure/go-amqp v1.7.0 // indirect
	github.com/xdg-go/scram v1.4.0 // indirect
	github.com/xdg-go/stringprep v1.0.4 // indirect
	golang.org/x/text v0.3.8 // indirect
)
