// Quantize a model with a progress display, stream its packed tensors, and read one tensor back.
//
//	CGO_LDFLAGS="-L$PWD/build/lib -Wl,-rpath,$PWD/build/lib" go run ./examples/go MODEL_DIR OUT_DIR
package main

import (
	"fmt"
	"log"
	"math"
	"os"

	"streamquant"
)

func main() {
	modelDir, outDir := os.Args[1], os.Args[2]
	ctx, err := streamquant.NewContext("cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer ctx.Close()
	model, err := streamquant.OpenModel(ctx, modelDir)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	job, err := streamquant.NewJob(model)
	if err != nil {
		log.Fatal(err)
	}
	defer job.Close()
	for k, v := range map[string]interface{}{"method": "gptq", "bits": 4, "group_size": 32} {
		if err := job.SetOption(k, v); err != nil {
			log.Fatal(err)
		}
	}
	tokens := make([]int32, 8*64)
	for i := range tokens {
		tokens[i] = int32(i * 7919 % 32000)
	}
	if err := job.SetCalibrationTokens(tokens, 64); err != nil {
		log.Fatal(err)
	}
	job.OnProgress(func(p streamquant.Progress) bool {
		fmt.Printf("\rblock %d/%d, eta %.1fs", p.Done, p.Total, p.ETA)
		return false
	})
	packed := 0
	job.OnTensor(func(t streamquant.SinkTensor) { packed += len(t.Data) })
	if err := job.Run(); err != nil {
		log.Fatal(err)
	}
	if err := job.Write(outDir, "gptq"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\nstreamed %d packed bytes\n", packed)
	quantized, err := streamquant.OpenModel(ctx, outDir)
	if err != nil {
		log.Fatal(err)
	}
	defer quantized.Close()
	name := "model.layers.0.self_attn.q_proj.weight"
	w, _ := model.ReadF32(name)
	wq, err := quantized.ReadF32(name)
	if err != nil {
		log.Fatal(err)
	}
	maxErr := 0.0
	for i := range w {
		maxErr = math.Max(maxErr, math.Abs(float64(w[i]-wq[i])))
	}
	fmt.Printf("%s: max |W - Wq| = %.4g\n", name, maxErr)
}
