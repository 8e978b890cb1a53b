module github.com/enmasse-go/enmasse

go 1.26.8

require (
	github.com/Azure/go-amqp v1.7.0 // indirect
	github.com/xdg-go/scram v1.4.0
	github.com/xdg-go/stringprep v1.0.4
	go.yaml.in/yaml/v3 v3.0.4
	golang.org/x/text v0.3.8 // indirect
)
