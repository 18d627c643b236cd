module streamquant-example

go 1.19

require streamquant v0.0.0

replace streamquant => ../../bindings/go
