module streamquant

go 1.19
