// Submits a job from the application's own transaction with jobsvc_submit (see the
// README section "Submitting from your own SQL transaction"): the order row and the job
// commit together. DATABASE_URL names jobsvc's database; prints the job's id.
//
// A module of its own, so that the client library does not depend on a database driver.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
)

// placeOrder inserts an order and submits the job that handles it, in one transaction.
func placeOrder(ctx context.Context, conn *pgx.Conn, order map[string]any) (string, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx) // a no-op once committed
	if _, err := tx.Exec(ctx, "INSERT INTO orders (body) VALUES ($1)", order); err != nil {
		return "", err
	}
	var jobID string
	err = tx.QueryRow(ctx,
		"SELECT jobsvc_submit(handler => 'echo', version => '1.0.0', input => $1)::text", order,
	).Scan(&jobID)
	if err != nil {
		return "", err
	}
	return jobID, tx.Commit(ctx)
}

func main() {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close(ctx)
	jobID, err := placeOrder(ctx, conn, map[string]any{"tenant": "acme", "total": 7})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(jobID)
}
