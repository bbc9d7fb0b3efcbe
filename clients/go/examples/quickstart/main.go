// Command quickstart calls the echo handler of the jobsvc server in JOBSVC_SERVER.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jobsvc/jobsvc/clients/go/jobsvc"
)

func main() {
	ctx := context.Background()
	client, err := jobsvc.Dial(ctx, os.Getenv("JOBSVC_SERVER"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	result, err := client.Call(ctx, "echo", map[string]string{"hello": "go"})
	if err != nil {
		log.Fatal(err)
	}
	var out map[string]string
	if err := result.Decode(&out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(result.Job.GetState(), out["hello"])
}
